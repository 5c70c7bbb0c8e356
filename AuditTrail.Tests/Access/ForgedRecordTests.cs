using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using Commands = AuditTrail.Functions.Hosting.CommandLine;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Access;

/// <summary>
/// The reported attack on <c>tokens revoke</c>: a producer posts the revocation's record first, under
/// the id the command would use. Whatever a producer can still post, the genuine command records its
/// own event; a conflict on the trail's own id (only storage access can plant one) is an alarm:
/// logged as an error, counted, and reported by the command with a non-zero exit, never an abort.
/// </summary>
public sealed class ForgedRecordTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Revocation_forged_before_tokens_revoke_is_refused_or_left_apart_and_the_command_records_its_own()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var producer = await StoredTrail.IngestClientAsync(app, ws, Roles.Ingest);
        var (target, _) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Ingest, null, "victim", Ct);
        var monthAgo = DateTimeOffset.UtcNow.AddDays(-30);
        // Everything a producer could send under the old, predictable id: the reserved type, and any other type.
        JsonObject Forged(string type, string id)
        {
            var e = TestEvents.Event(ws, id, type, monthAgo, resourceType: "access-token", resourceId: target.Id);
            e["actor"] = new JsonObject { ["type"] = "system", ["id"] = "token-admin" };
            return e;
        }
        using var posted = await StoredTrail.PostAsync(producer, ws,
        [
            Forged("Access Token Revoked", $"access-token-revoked-{target.Id}"),
            Forged("Source Disabled", $"access-token-revoked-{target.Id}"),
            Forged("Access Token Revoked", $"{TrailRecordIds.Prefix}access-token-revoked-{target.Id}"),
        ]);
        var answer = await StoredTrail.JsonAsync(posted);
        Assert.Equal([RejectionCodes.ReservedType, RejectionCodes.ReservedType],
            answer.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());

        var first = await RunAsync(app, "tokens", "revoke", "--workspace", ws, "--id", target.Id);
        var second = await RunAsync(app, "tokens", "revoke", "--workspace", ws, "--id", target.Id);

        Assert.Equal((0, ""), (first.Exit, first.Err));
        Assert.Equal((0, ""), (second.Exit, second.Err));
        var trail = await TrailAsync(app, ws);
        var revoked = Assert.Single(trail, e => e.GetProperty("type").GetString() == "Access Token Revoked");
        Assert.Equal(EventSources.Trail, revoked.GetProperty("source").GetString());
        Assert.StartsWith($"{TrailRecordIds.Prefix}access-token-revoked-{target.Id}-", revoked.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("token-admin", revoked.GetProperty("actor").GetProperty("id").GetString());
        // The producer's event under the old id stays what it is: the producer's, and says so.
        var leftover = Assert.Single(trail, e => e.GetProperty("id").GetString() == $"access-token-revoked-{target.Id}");
        Assert.Equal(("Source Disabled", EventSources.Api), (leftover.GetProperty("type").GetString(), leftover.GetProperty("source").GetString()));
    }

    [Fact]
    public async Task Planted_claim_on_a_revocations_record_id_is_an_alarm_and_never_taken_as_the_record()
    {
        var logs = new CollectedLogs();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, logs: logs);
        using var conflicts = new ConflictCounter(app);
        var ws = TestEvents.NewWorkspaceId();
        var (target, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Ingest, null, "victim", Ct);
        // Someone with storage access revokes the token by hand and plants the record's claim first.
        var recordId = $"{TrailRecordIds.Prefix}access-token-revoked-{target.Id}-planted";
        using var clients = azurite.CreateClients();
        var tokens = clients.Tables.GetTableClient(AccessTokenService.TableName);
        var row = (await tokens.GetEntityAsync<TableEntity>(target.Id, "token", cancellationToken: Ct)).Value;
        row["RevokedAt"] = DateTimeOffset.UtcNow;
        row["RevokedRecordId"] = recordId;
        await tokens.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, Ct);
        await clients.Tables.GetTableClient(TrailTables.EventIdsTable).AddEntityAsync(new TableEntity(ws, TrailKeys.Encode(recordId))
        {
            ["EventId"] = recordId,
            ["ContentHash"] = new string('0', 64),
            ["EventPartition"] = TrailKeys.PartitionKey(ws, DateTimeOffset.UtcNow),
            ["EventRow"] = TrailKeys.PrimaryRowKey(DateTimeOffset.UtcNow, recordId),
            ["ReceivedAt"] = DateTimeOffset.UtcNow,
            ["Door"] = IngestDoors.Http,
            ["ClaimToken"] = "planted",
        }, Ct);

        var (exit, err) = await RunAsync(app, "tokens", "revoke", "--workspace", ws, "--id", target.Id);

        Assert.Equal(Commands.Failed, exit);
        Assert.StartsWith("error: the token is revoked, but its audit event was not recorded. ALARM:", err, StringComparison.Ordinal);
        Assert.Contains(recordId, err, StringComparison.Ordinal);
        Assert.Equal(TokenCheck.Revoked, (await app.Services.GetRequiredService<AccessTokenService>().ValidateAsync(token, Ct)).Result);
        Assert.DoesNotContain(await TrailAsync(app, ws), e => e.GetProperty("type").GetString() == "Access Token Revoked");
        Assert.Contains(logs.Lines, l => l.StartsWith("Error ", StringComparison.Ordinal) && l.Contains("ALARM", StringComparison.Ordinal)
                                         && l.Contains($"EventId={recordId}", StringComparison.Ordinal) && l.Contains($"WorkspaceId={ws}", StringComparison.Ordinal));
        Assert.Equal(1, conflicts.Count("Access Token Revoked"));
    }

    [Fact]
    public async Task Token_revoked_by_an_earlier_version_whose_record_a_producer_took_first_is_recorded_under_the_trails_own_id()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        using var producer = await StoredTrail.IngestClientAsync(app, ws, Roles.Ingest);
        var (target, _) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Ingest, null, "victim", Ct);
        using var posted = await StoredTrail.PostAsync(producer, ws, [TestEvents.Event(ws, $"access-token-revoked-{target.Id}", timestamp: DateTimeOffset.UtcNow.AddMinutes(-1))]);
        Assert.Equal(1, (await StoredTrail.JsonAsync(posted)).GetProperty("accepted").GetInt32());
        // Revoked as an earlier version left it: the time only, no record id.
        using var clients = azurite.CreateClients();
        var tokens = clients.Tables.GetTableClient(AccessTokenService.TableName);
        var row = (await tokens.GetEntityAsync<TableEntity>(target.Id, "token", cancellationToken: Ct)).Value;
        row["RevokedAt"] = DateTimeOffset.UtcNow.AddMinutes(-1);
        await tokens.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, Ct);

        var (exit, err) = await RunAsync(app, "tokens", "revoke", "--workspace", ws, "--id", target.Id);

        Assert.Equal((0, ""), (exit, err));
        var revoked = Assert.Single(await TrailAsync(app, ws), e => e.GetProperty("type").GetString() == "Access Token Revoked");
        Assert.Equal(EventSources.Trail, revoked.GetProperty("source").GetString());
        Assert.StartsWith(TrailRecordIds.Prefix, revoked.GetProperty("id").GetString(), StringComparison.Ordinal);
    }

    internal static async Task<(int Exit, string Err)> RunAsync(AuditTrailAppFactory app, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Commands.RunAsync(app.Services, args, output, error, Ct);
        return (exit, error.ToString());
    }

    /// <summary>The workspace's whole trail as the list API answers it.</summary>
    internal static async Task<List<JsonElement>> TrailAsync(AuditTrailAppFactory app, string ws)
    {
        using var owner = await StoredTrail.IngestClientAsync(app, ws);
        var page = await owner.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events?limit=1000", Ct);
        return page.GetProperty("value").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    /// <summary>Counts <c>audittrail.trail_record.conflicts</c> of this app's meter only (tests run in parallel).</summary>
    internal sealed class ConflictCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _types = new();

        public ConflictCounter(AuditTrailAppFactory app)
        {
            var meters = app.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "audittrail.trail_record.conflicts" && instrument.Meter.Scope == meters)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "audittrail.event_type")
                    {
                        for (var i = 0; i < value; i++)
                        {
                            _types.Enqueue(tag.Value as string ?? string.Empty);
                        }
                    }
                }
            });
            _listener.Start();
        }

        public int Count(string eventType) => _types.Count(t => t == eventType);

        public void Dispose() => _listener.Dispose();
    }
}
