using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Hosting;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;

namespace AuditTrail.Tests.Ingestion;

/// <summary>
/// An Event Hubs batch under the host's endless retry policy: a failure that repeats for a reason
/// other than storage being unavailable ends, after the configured tries (or on the host's last
/// try), with the batch dead-lettered whole and acknowledged, so its partition moves on; a storage
/// outage fails every try and never drops a batch.
/// </summary>
public sealed class BatchFailureTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string> ThreeTries = new() { ["AuditTrail:Ingestion:MaxFailedAttempts"] = "3" };

    /// <summary>Storage refuses the id claims of this workspace for good (400), as a bug or an input the code cannot take would fail every try.</summary>
    private static Func<ProxiedRequest, Fault?> ClaimsRefused(string workspaceId, FaultKind kind = FaultKind.BadRequest) =>
        r => r.IsTransaction && r.Touches(TrailTables.EventIdsTable) && r.Body.Contains(workspaceId, StringComparison.Ordinal) ? new Fault(kind) : null;

    [Fact]
    public async Task Batch_that_keeps_failing_is_dead_lettered_whole_after_the_configured_tries_and_acknowledged()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 1, settings: ThreeTries);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var payload = TestEvents.EventHubInvocation(StoredTrail.Events(ws, "evt_bad", 5).Select(e => e.ToJsonString()).ToList(), partitionId: "3", firstSequenceNumber: 7000);
        storage.Faults = ClaimsRefused(ws);

        var first = await InvokeAsync(http, payload, retryCount: 0);
        var second = await InvokeAsync(http, payload, retryCount: 1);
        var third = await InvokeAsync(http, payload, retryCount: 2);

        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        var log = (await StoredTrail.JsonAsync(third)).GetProperty("Logs")[0].GetString()!;
        Assert.StartsWith("The batch failed 3 time(s) for a reason other than storage being unavailable", log, StringComparison.Ordinal);
        var blob = log[(log.IndexOf("audit-deadletter/", StringComparison.Ordinal) + "audit-deadletter/".Length)..].TrimEnd('.');
        using var clients = azurite.CreateClients();
        var letter = JsonDocument.Parse((await clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer).ReadTextAsync(blob, Ct))!).RootElement;
        Assert.Equal("batch_failed", letter.GetProperty("code").GetString());
        Assert.Contains("400", letter.GetProperty("reason").GetString(), StringComparison.Ordinal);
        // Whole and exactly as it came: the host's payload of that try, byte for byte.
        Assert.Equal(Payload(payload, 2, -1), letter.GetProperty("raw").GetString());

        // The next batch of the partition (or this one replayed from the dead letter) goes through once storage takes it.
        storage.Faults = _ => null;
        Assert.Equal(HttpStatusCode.OK, (await InvokeAsync(http, payload, retryCount: 0)).StatusCode);
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, [.. Enumerable.Range(0, 5).Select(i => $"evt_bad_{i:D4}")]);
    }

    [Fact]
    public async Task Storage_outage_fails_every_try_and_never_dead_letters_the_batch()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 1, settings: ThreeTries);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var payload = TestEvents.EventHubInvocation(StoredTrail.Events(ws, "evt_out", 5).Select(e => e.ToJsonString()).ToList(), partitionId: "4", firstSequenceNumber: 9000);
        storage.Faults = ClaimsRefused(ws, FaultKind.ServerBusy);

        for (var retry = 0; retry < 6; retry++)
        {
            var answer = await InvokeAsync(http, payload, retry);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        }

        storage.Faults = _ => null;
        var stored = await StoredTrail.JsonAsync(await InvokeAsync(http, payload, retryCount: 6));
        Assert.Equal(5, stored.GetProperty("ReturnValue").GetProperty("accepted").GetInt32());
    }

    [Fact]
    public async Task Host_s_last_try_dead_letters_a_failing_batch_at_once_instead_of_losing_it_to_the_checkpoint()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 1, settings: ThreeTries);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var payload = TestEvents.EventHubInvocation(StoredTrail.Events(ws, "evt_last", 2).Select(e => e.ToJsonString()).ToList(), partitionId: "5", firstSequenceNumber: 1);
        storage.Faults = ClaimsRefused(ws);

        var answer = await InvokeAsync(http, payload, retryCount: 4, maxRetryCount: 4);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("the last the host would try", (await StoredTrail.JsonAsync(answer)).GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_holding_a_lone_surrogate_inside_an_array_is_one_rejection_not_a_failed_batch()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var valid = StoredTrail.Events(ws, "evt_sibling", 1)[0].ToJsonString();
        // Valid JSON whose string is not valid UTF-16: it cannot be decoded, on this try or any other.
        var payload = TestEvents.EventHubInvocation([valid, "[\"\\ud800\"]"]);

        var response = await http.PostAsync("/IngestAuditEvents", new StringContent(payload, Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = (await StoredTrail.JsonAsync(response)).GetProperty("ReturnValue");
        Assert.Equal(1, answer.GetProperty("accepted").GetInt32());
        Assert.Equal("invalid_string", answer.GetProperty("rejected")[0].GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Retry_context_is_read_as_an_object_or_as_json_text(bool asText)
    {
        var payload = JsonNode.Parse(TestEvents.EventHubInvocation(["{}", "{}"], partitionId: "9", firstSequenceNumber: 42))!.AsObject();
        var context = new JsonObject { ["RetryCount"] = 3, ["MaxRetryCount"] = -1, ["Exception"] = "Exception while executing function" };
        payload["Metadata"]!["RetryContext"] = asText ? context.ToJsonString() : context;

        using var doc = JsonDocument.Parse(payload.ToJsonString());
        var attempt = AuditTrail.Functions.FunctionsHost.EventHubInvocationReader.ReadEventBatch(doc.RootElement, "events").Attempt;

        Assert.Equal(("9/42/2", 3, -1, false), (attempt.Key, attempt.RetryCount, attempt.MaxRetryCount, attempt.IsLast));
    }

    private static Task<HttpResponseMessage> InvokeAsync(HttpClient http, string payload, int retryCount, int maxRetryCount = -1) =>
        http.PostAsync("/IngestAuditEvents", new StringContent(Payload(payload, retryCount, maxRetryCount), Encoding.UTF8, "application/json"), Ct);

    /// <summary>The payload of one try: the first as the host sends it, later ones with the retry context the host adds.</summary>
    private static string Payload(string payload, int retryCount, int maxRetryCount)
    {
        if (retryCount == 0 && maxRetryCount < 0)
        {
            return payload;
        }
        var body = JsonNode.Parse(payload)!.AsObject();
        body["Metadata"]!["RetryContext"] = new JsonObject { ["RetryCount"] = retryCount, ["MaxRetryCount"] = maxRetryCount, ["Exception"] = "scripted" };
        return body.ToJsonString();
    }
}
