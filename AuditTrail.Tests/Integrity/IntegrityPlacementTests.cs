using System.Net;
using System.Text.Json;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Integrity;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// Rows kept whole but put where they do not belong: the row hash leaves the keys out, so only
/// recomputing each row's keys from its own properties shows them. Each test's clock starts at a
/// fixed time of day (<see cref="TestClock.AtTestTime"/>), so none depends on when it runs.
/// </summary>
public sealed class IntegrityPlacementTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<IntegrityTrail> SealedTrailAsync()
    {
        var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        // One event of the day before, so that day's partition is registered and read by verification.
        await trail.IngestAsync(TestEvents.Event(trail.Ws, "evt_yesterday", timestamp: trail.Clock.Now.AddDays(-1)),
            trail.Event("evt_p1"), trail.Event("evt_p2"), trail.Event("evt_p3"));
        await trail.SealAsync();
        IntegrityTrail.AssertIntact(await trail.VerifyAsync());
        return trail;
    }

    private static async Task<JsonElement> QueryAsync(IntegrityTrail trail, string query)
    {
        using var response = await trail.Owner.GetAsync($"/api/workspaces/{trail.Ws}/audit-events?{query}", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
    }

    private static IEnumerable<string> EventIds(JsonElement page) =>
        page.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("id").GetString()!);

    [Fact]
    public async Task A_rekeyed_actor_index_row_is_reported_as_misplaced()
    {
        await using var trail = await SealedTrailAsync();
        var actorId = "usr_" + "evt_p2".Length;
        Assert.Contains("evt_p2", EventIds(await QueryAsync(trail, "actorId=" + actorId)));
        var row = (await trail.RowsOfAsync("evt_p2")).Single(r => r.RowKey.StartsWith(TrailKeys.ActorPrefixFor(actorId), StringComparison.Ordinal));
        // Same properties, another actor's key: the row hash is unchanged, and the actor filter no longer finds the event.
        var moved = new TableEntity(row) { RowKey = TrailKeys.ActorPrefixFor("zzz") + row.RowKey[TrailKeys.ActorPrefixFor(actorId).Length..] };
        await trail.Events.AddEntityAsync(moved, Ct);
        await trail.Events.DeleteEntityAsync(row.PartitionKey, row.RowKey, cancellationToken: Ct);
        Assert.DoesNotContain("evt_p2", EventIds(await QueryAsync(trail, "actorId=" + actorId)));

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(["evt_p2"], IntegrityTrail.Ids(report, "misplaced"));
        Assert.Empty(IntegrityTrail.Ids(report, "modified"));
        Assert.Empty(IntegrityTrail.Ids(report, "missing"));
        Assert.Contains(moved.RowKey, report.GetProperty("misplaced")[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(IntegrityCommand.NotIntact, await IntegrityCommand.RunAsync(trail.App.Services, ["integrity", "verify", "--workspace", trail.Ws], output, error, Ct));
        Assert.Contains("misplaced   evt_p2", output.ToString(), StringComparison.Ordinal);
        // Azurite keeps no retention policy on the digest container: the command says so.
        Assert.Contains("warning: container audit-digests has no time-based retention policy", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_index_row_is_reported_as_missing()
    {
        await using var trail = await SealedTrailAsync();
        var row = (await trail.RowsOfAsync("evt_p1")).Single(r => r.RowKey.StartsWith(TrailKeys.TypePrefix, StringComparison.Ordinal));
        await trail.Events.DeleteEntityAsync(row.PartitionKey, row.RowKey, cancellationToken: Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(["evt_p1"], IntegrityTrail.Ids(report, "missing"));
        Assert.Contains("type index row", report.GetProperty("missing")[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(IntegrityTrail.Ids(report, "modified"));
        Assert.Empty(IntegrityTrail.Ids(report, "misplaced"));
    }

    [Fact]
    public async Task A_primary_row_moved_to_another_day_is_reported_as_misplaced()
    {
        await using var trail = await SealedTrailAsync();
        var primary = (await trail.RowsOfAsync("evt_p3"))[0];
        Assert.StartsWith(TrailKeys.PrimaryPrefix, primary.RowKey, StringComparison.Ordinal);
        // Same row key and properties, the partition of the day before (one verification reads):
        // evt_yesterday's, not "now minus a day", which after the seal's clock move is the event's own
        // day when the test starts just before midnight.
        var dayBefore = (await trail.RowsOfAsync("evt_yesterday"))[0].PartitionKey;
        Assert.NotEqual(primary.PartitionKey, dayBefore);
        var moved = new TableEntity(primary) { PartitionKey = dayBefore };
        await trail.Events.AddEntityAsync(moved, Ct);
        await trail.Events.DeleteEntityAsync(primary.PartitionKey, primary.RowKey, cancellationToken: Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(["evt_p3"], IntegrityTrail.Ids(report, "misplaced"));
        Assert.Empty(IntegrityTrail.Ids(report, "modified"));
        Assert.Empty(IntegrityTrail.Ids(report, "missing"));
    }

    [Fact]
    public async Task An_extra_copy_of_a_row_under_another_key_is_reported_as_misplaced()
    {
        await using var trail = await SealedTrailAsync();
        var row = (await trail.RowsOfAsync("evt_p1"))[0];
        await trail.Events.AddEntityAsync(new TableEntity(row) { RowKey = TrailKeys.ActorPrefixFor("usr_other") + row.RowKey[TrailKeys.PrimaryPrefix.Length..] }, Ct);

        var report = await trail.VerifyAsync();

        Assert.Equal(["evt_p1"], IntegrityTrail.Ids(report, "misplaced"));
        Assert.Empty(IntegrityTrail.Ids(report, "missing"));
    }
}
