using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using Commands = AuditTrail.Functions.Hosting.CommandLine;
using AuditTrail.Tests.Access;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// The reported attack on <c>integrity seal</c>: a producer posts <c>audit-digest-0…9</c> before the
/// sealer forwards its digest. They are refused at the door, the sealer records its own digest event
/// under an id of its own, and a seal whose record fails ends with a clear line and a non-zero exit.
/// </summary>
public sealed class ForgedDigestTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string> Forwarding = new()
    {
        ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
        ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00",
    };

    private static async Task ForwardAsync(IntegrityTrail trail, TrackingReceiver receiver)
    {
        using var put = await trail.Owner.PutAsJsonAsync($"/api/workspaces/{trail.Ws}/settings/audit-forwarding",
            new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() }, Ct);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    [Fact]
    public async Task Digest_events_forged_before_sealing_are_refused_and_the_seal_records_its_own()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString, settings: Forwarding);
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await ForwardAsync(trail, receiver);
        var forged = Enumerable.Range(0, 10).Select(i => TestEvents.Event(trail.Ws, $"audit-digest-{i}", DigestSealer.SealedEventType, trail.Clock.Now.AddMinutes(-1))).ToList();
        using var posted = await StoredTrail.PostAsync(trail.Owner, trail.Ws, [.. forged, trail.Event("evt_real")]);
        var answer = await StoredTrail.JsonAsync(posted);
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        Assert.All(answer.GetProperty("rejected").EnumerateArray(), r => Assert.Equal(RejectionCodes.ReservedType, r.GetProperty("code").GetString()));
        Assert.Equal(10, answer.GetProperty("rejectedCount").GetInt32());
        trail.Clock.Now += IntegrityTrail.SealDelay + TimeSpan.FromMinutes(1);

        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Commands.RunAsync(trail.App.Services, ["integrity", "seal", "--workspace", trail.Ws], output, error, Ct);

        Assert.Equal((0, ""), (exit, error.ToString()));
        Assert.Contains($"sealed  {trail.Ws}  #0", output.ToString(), StringComparison.Ordinal);
        var page = await trail.Owner.GetFromJsonAsync<JsonElement>($"/api/workspaces/{trail.Ws}/audit-events?limit=1000", Ct);
        var events = page.GetProperty("value").EnumerateArray().ToList();
        var digest = Assert.Single(events, e => e.GetProperty("type").GetString() == DigestSealer.SealedEventType);
        Assert.StartsWith($"{TrailRecordIds.Prefix}audit-digest-0-", digest.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(EventSources.Trail, digest.GetProperty("source").GetString());
        Assert.Equal(0, digest.GetProperty("properties").GetProperty("sequence").GetInt64());
        Assert.DoesNotContain(events, e => e.GetProperty("id").GetString()!.StartsWith("audit-digest-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Seal_whose_digest_record_cannot_be_stored_ends_with_a_clear_line_and_a_non_zero_exit()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var trail = await IntegrityTrail.StartAsync(storage.ConnectionString, azurite.ConnectionString, Forwarding);
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        await ForwardAsync(trail, receiver);
        await trail.IngestAsync(trail.Event("evt_1"));
        trail.Clock.Now += IntegrityTrail.SealDelay + TimeSpan.FromMinutes(1);
        // Storage refuses the trail's event rows, and only those: the digest is sealed, its record is not stored.
        storage.Faults = r => r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.ServerBusy) : null;

        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Commands.RunAsync(trail.App.Services, ["integrity", "seal", "--workspace", trail.Ws], output, error, Ct);

        storage.Faults = _ => null;
        // The workspace's failure is isolated (the run goes on with the others) and named on one line.
        Assert.Equal(Functions.Integrity.IntegrityCommand.SealFailed, exit);
        Assert.StartsWith($"failed  {trail.Ws}  ", error.ToString(), StringComparison.Ordinal);
        Assert.Single(error.ToString().TrimEnd().Split('\n'));
        Assert.Single(await trail.DigestsAsync());
    }
}
