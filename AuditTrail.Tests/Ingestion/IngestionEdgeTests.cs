using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Tests.Ingestion;

/// <summary>Limits met by real bytes, refusals by storage, and batches that repeat themselves.</summary>
public sealed class IngestionEdgeTests(AzuriteFixture azurite) : IngestionTestBase(azurite)
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow.AddHours(-1);

    [Fact]
    public async Task Batch_of_large_non_ASCII_events_is_split_by_measured_size_and_stored_whole()
    {
        var ws = TestEvents.NewWorkspaceId();
        var events = Enumerable.Range(0, 25).Select(i =>
        {
            var e = TestEvents.Event(ws, $"evt_cjk_{i}", timestamp: At.AddSeconds(i));
            e["properties"] = new JsonObject { ["text"] = new string('漢', 10_000) };
            return (JsonNode)e;
        }).ToArray();

        var body = await JsonAsync(await PostEventsAsync(ws, TestEvents.Array(events)));

        Assert.Equal(25, body.GetProperty("accepted").GetInt32());
        var rows = await RowsAsync(ws, At);
        Assert.Equal(100, rows.Count);
        Assert.All(rows, r => Assert.Equal("{\"text\":\"" + new string('漢', 10_000) + "\"}", r.GetString("Properties")));
    }

    [Fact]
    public async Task Event_whose_stored_text_would_exceed_a_table_property_is_refused_and_its_siblings_kept()
    {
        var ws = TestEvents.NewWorkspaceId();
        var emoji = TestEvents.Event(ws, "evt_emoji", timestamp: At);
        // 3,000 emoji sent as literal UTF-8 are 12 KB, but 36,000 characters once escaped for storage.
        emoji["properties"] = new JsonObject { ["text"] = "EMOJI" };
        var json = TestEvents.Array(emoji, TestEvents.Event(ws, "evt_ok", timestamp: At)).Replace("EMOJI", string.Concat(Enumerable.Repeat("😀", 3000)), StringComparison.Ordinal);

        var body = await JsonAsync(await PostEventsAsync(ws, json));

        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        var rejection = Assert.Single(body.GetProperty("rejected").EnumerateArray());
        Assert.Equal(("event_too_large", "properties"), (rejection.GetProperty("code").GetString(), rejection.GetProperty("field").GetString()));
    }

    [Fact]
    public async Task Event_storage_refuses_is_dead_lettered_with_its_claim_released_and_its_siblings_stored()
    {
        var ws = TestEvents.NewWorkspaceId();
        var refusing = new RefuseEventMarked("evt_refused") { InnerHandler = new SocketsHttpHandler() };
        using var clients = Azurite.CreateClients(refusing);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var ingestion = new IngestionService(store, new DeadLetterStore(store), TimeProvider.System, NullLogger<IngestionService>.Instance);
        var raw = new[] { "evt_a", "evt_refused", "evt_b" }.Select(id => RawEvent.FromText(TestEvents.Event(ws, id, timestamp: At).ToJsonString())).ToList();

        var result = await ingestion.IngestAsync(raw, new IngestContext(IngestDoors.Http), Ct);

        Assert.Equal(2, result.Accepted);
        var rejection = Assert.Single(result.Rejected);
        Assert.Equal((1, RejectionCodes.StorageRejected, "evt_refused"), (rejection.Index, rejection.Code, rejection.EventId));
        Assert.Equal(["evt_a", "evt_b"], (await RowsAsync(ws, At)).Where(r => r.RowKey.StartsWith("e_", StringComparison.Ordinal)).Select(r => r.GetString("EventId")).Order(StringComparer.Ordinal));
        Assert.Null(await Clients.Tables.GetTableClient(TrailTables.EventIdsTable).FindAsync(ws, TrailKeys.Encode("evt_refused"), Ct));
        Assert.NotNull(result.DeadLetterBlob);
    }

    [Fact]
    public async Task Copies_of_a_conflicting_event_in_one_batch_are_all_conflicts_not_duplicates()
    {
        var ws = TestEvents.NewWorkspaceId();
        await PostEventsAsync(ws, TestEvents.Array(TestEvents.Event(ws, "evt_x", timestamp: At)));
        var forged = TestEvents.Event(ws, "evt_x", type: "Source Deleted", timestamp: At);

        var body = await JsonAsync(await PostEventsAsync(ws, TestEvents.Array(forged, forged)));

        Assert.Equal(0, body.GetProperty("duplicates").GetInt32());
        Assert.Equal([0, 1], body.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        Assert.All(body.GetProperty("rejected").EnumerateArray(), r => Assert.Equal("conflict", r.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task A_retried_batch_rewrites_the_same_dead_letter_blob()
    {
        var ws = TestEvents.NewWorkspaceId();
        var service = App.Services.GetService(typeof(IngestionService)) as IngestionService;
        var bad = new[] { RawEvent.FromText("{\"id\":\"bad\",\"workspaceId\":\"" + ws + "\"}") };

        var first = await service!.IngestAsync(bad, new IngestContext(IngestDoors.EventHub, null, "invocation-1"), Ct);
        var retry = await service.IngestAsync(bad, new IngestContext(IngestDoors.EventHub, null, "invocation-2"), Ct);

        Assert.Equal(first.DeadLetterBlob, retry.DeadLetterBlob);
    }

    [Fact]
    public void Content_hash_ignores_what_the_catalog_derives()
    {
        var e = new AuditEvent("id", "ws", "Source Disabled", "Source", true, At, new AuditActor("user", "u", null, null), new AuditResource("source", "s", null), null, null, null);

        Assert.Equal(EventRows.ContentHash(e), EventRows.ContentHash(e with { Type = "source disabled", ProductArea = "Uncataloged", Cataloged = false }));
        Assert.NotEqual(EventRows.ContentHash(e), EventRows.ContentHash(e with { Resource = new AuditResource("source", "other", null) }));
    }

    /// <summary>Answers a transaction that holds a marked event the way the service refuses one: 202 with an inner 400.</summary>
    private sealed class RefuseEventMarked(string marker) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/$batch", StringComparison.Ordinal) && request.Content is not null
                && await request.Content.ReadAsStringAsync(cancellationToken) is var body
                && body.Contains("\"EventId\":\"" + marker + "\"", StringComparison.Ordinal)
                && body.Contains("\"ActorId\"", StringComparison.Ordinal)) // event rows, not the id claims
            {
                const string Body = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n--changesetresponse_1\r\n"
                                    + "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 400 Bad Request\r\n"
                                    + "Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
                                    + "{\"odata.error\":{\"code\":\"PropertyValueTooLarge\",\"message\":{\"lang\":\"en-US\",\"value\":\"0:The property value exceeds the maximum allowed size (64KB).\"}}}\r\n"
                                    + "--changesetresponse_1--\r\n--batchresponse_1--\r\n";
                var answer = new StringContent(Body, Encoding.UTF8);
                answer.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/mixed; boundary=batchresponse_1");
                return new HttpResponseMessage(HttpStatusCode.Accepted) { Content = answer };
            }
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
