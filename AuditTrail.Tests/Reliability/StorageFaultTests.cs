using System.Net;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;

namespace AuditTrail.Tests.Reliability;

/// <summary>
/// Storage faults injected by <see cref="FaultProxy"/> between the real app and the real Azurite:
/// passing faults are retried within the bound and leave one copy; lasting ones fail the request
/// cleanly (503 + Retry-After, or a failed invocation) and a replay afterwards leaves one copy.
/// </summary>
public sealed class StorageFaultTests(AzuriteFixture azurite)
{
    private const int Retries = 2; // the app factory's storage retries: 3 tries per request

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Each try gets 1 s, so a request the proxy holds counts as timed out quickly.</summary>
    private static readonly Dictionary<string, string> FastTryTimeout = new() { ["AuditStorage:Retry:TryTimeout"] = "00:00:01" };

    private static Fault? Faults(ProxiedRequest request, Func<ProxiedRequest, bool> which, Fault fault, ref int budget)
    {
        if (!which(request))
        {
            return null;
        }
        return Interlocked.Decrement(ref budget) >= 0 ? fault : null;
    }

    public static TheoryData<FaultKind> PassingFaults() =>
    [
        FaultKind.ServerBusy, FaultKind.InternalError, FaultKind.Timeout, FaultKind.ResetBeforeForward, FaultKind.ResetAfterForward, FaultKind.Slow,
    ];

    [Theory]
    [MemberData(nameof(PassingFaults))]
    public async Task Passing_fault_on_every_kind_of_write_is_retried_and_each_event_stored_once(FaultKind kind)
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: Retries, settings: FastTryTimeout);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_pass", 30);
        // Each table write (registries, claims, rows) fails on its first try, and only that try.
        var faulted = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>();
        storage.Faults = r => r.IsTransaction && faulted.TryAdd(r.Body, 0) ? new Fault(kind, TimeSpan.FromMilliseconds(kind == FaultKind.Slow ? 300 : 5000)) : null;

        var response = await StoredTrail.PostAsync(http, ws, events);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await StoredTrail.JsonAsync(response);
        Assert.Equal(30, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(0, answer.GetProperty("duplicates").GetInt32());
        Assert.True(faulted.Count >= 3, $"Expected the claims and both rows transactions to meet the fault; {faulted.Count} transactions did.");
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());
    }

    public static TheoryData<FaultKind> LastingFaults() => [FaultKind.ServerBusy, FaultKind.InternalError, FaultKind.Timeout, FaultKind.ResetBeforeForward];

    [Theory]
    [MemberData(nameof(LastingFaults))]
    public async Task Lasting_fault_fails_both_doors_cleanly_after_bounded_retries_and_a_replay_stores_each_event_once(FaultKind kind)
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: Retries, settings: FastTryTimeout);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_last", 40);
        // Claims and registries go through; every write of event rows fails: the worst moment to fail.
        storage.Faults = r => r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(kind, TimeSpan.FromSeconds(5)) : null;

        var viaHttp = await StoredTrail.PostAsync(http, ws, events);
        var viaHost = await StoredTrail.InvokeEventHubAsync(http, events);

        await StoredTrail.AssertStorageUnavailableAsync(viaHttp);
        Assert.False(viaHost.IsSuccessStatusCode, "A batch that was not stored must fail the invocation, so the host retries it before checkpointing.");
        // Bounded: a rows transaction is tried 1 + MaxRetries times, no more (fewer when a sibling's
        // failure already doomed the request and cancelled it).
        var tries = storage.Seen.Where(s => s.Fault == kind).GroupBy(s => s.Request.Body).Select(g => g.Count()).ToList();
        Assert.Contains(Retries + 1, tries);
        Assert.All(tries, t => Assert.InRange(t, 1, Retries + 1));

        storage.Faults = _ => null;
        var replay = await StoredTrail.PostAsync(http, ws, events);

        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        var answer = await StoredTrail.JsonAsync(replay);
        // The failed tries claimed the ids, so the replay finds them and completes their rows.
        Assert.Equal(40, answer.GetProperty("accepted").GetInt32() + answer.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, answer.GetProperty("rejectedCount").GetInt32());
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());
    }

    [Fact]
    public async Task Claims_applied_but_answer_lost_are_counted_as_accepted_not_duplicates()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: Retries);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_lost", 20);
        var budget = 1;
        // Storage applies the claims, then the connection dies: the retry meets EntityAlreadyExists.
        storage.Faults = r => Faults(r, x => x.IsTransaction && x.Touches(TrailTables.EventIdsTable), new Fault(FaultKind.ResetAfterForward), ref budget);

        var response = await StoredTrail.PostAsync(http, ws, events);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await StoredTrail.JsonAsync(response);
        Assert.Equal(20, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(0, answer.GetProperty("duplicates").GetInt32());
        Assert.Single(storage.Seen, s => s.Fault == FaultKind.ResetAfterForward);
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());

        var again = await StoredTrail.JsonAsync(await StoredTrail.PostAsync(http, ws, events));
        Assert.Equal(0, again.GetProperty("accepted").GetInt32());
        Assert.Equal(20, again.GetProperty("duplicates").GetInt32());
    }

    [Fact]
    public async Task Failed_action_in_a_transaction_is_named_by_index_status_and_code_and_nothing_is_applied_even_after_a_retry()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        using var clients = AzuriteFixture.CreateClients(storage.ConnectionString);
        var table = clients.Tables.GetTableClient("ReliabilityEgt");
        await table.CreateIfNotExistsAsync(Ct);
        var pk = Guid.NewGuid().ToString("N");
        await table.AddEntityAsync(new TableEntity(pk, "r3"), Ct);
        var budget = 1;
        storage.Faults = r => Faults(r, x => x.IsTransaction, new Fault(FaultKind.ServerBusy), ref budget);

        var ex = await Assert.ThrowsAsync<TableTransactionFailedException>(() => table.SubmitAsync(
            Enumerable.Range(0, 6).Select(i => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(pk, $"r{i}") { ["N"] = i })).ToList(), Ct));

        Assert.Equal(3, ex.FailedTransactionActionIndex);
        Assert.Equal(409, ex.Status);
        Assert.Equal("EntityAlreadyExists", ex.ErrorCode);
        Assert.False(StorageFailures.IsUnavailable(ex, Ct));
        Assert.Contains("action 3", StorageFailures.Describe(ex), StringComparison.Ordinal);
        Assert.Equal(2, storage.Seen.Count(s => s.Request.IsTransaction)); // the 503, then the real answer
        var left = (await table.PartitionAsync(pk, Ct)).Select(e => e.RowKey).ToList();
        Assert.Equal(["r3"], left);
    }

    [Fact]
    public async Task Transaction_answered_with_an_inner_server_error_fails_the_ingest_cleanly_naming_the_action()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        var logs = new CollectedLogs();
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: Retries, logs: logs);
        var ws = TestEvents.NewWorkspaceId();
        using var http = await StoredTrail.IngestClientAsync(app, ws);
        var events = StoredTrail.Events(ws, "evt_inner", 10);
        var budget = 1;
        // 202 Accepted whose change set holds a 500 for action 2: the whole transaction was not applied.
        storage.Faults = r => Faults(r, x => x.IsTransaction && x.Touches(TrailTables.EventsTable), new Fault(FaultKind.TransactionInnerError), ref budget);

        var response = await StoredTrail.PostAsync(http, ws, events);

        await StoredTrail.AssertStorageUnavailableAsync(response);
        Assert.Contains(logs.Lines, l => l.Contains("Transaction failed at action 2 with 500 InternalError", StringComparison.Ordinal));

        var replay = await StoredTrail.PostAsync(http, ws, events);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        using var clients = azurite.CreateClients();
        await StoredTrail.AssertStoredExactlyOnceAsync(clients, ws, events.Select(e => (string)e["id"]!).ToList());
    }
}
