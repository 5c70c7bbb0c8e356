using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Retention;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Retention;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Tests.Retention;

/// <summary>
/// The purge is global over the storage account, and the suite shares one Azurite. So these tests
/// run on a clock 400+ days in the past: what is expired for them is older than anything another
/// test writes, and nothing another test writes is expired for them. The tests of this class run
/// one after another (xunit runs a class's tests sequentially).
/// </summary>
public sealed class RetentionTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static int _epoch;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly TestClock _clock = new(new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-400 - (50 * Interlocked.Increment(ref _epoch))), TimeSpan.Zero).AddHours(13));
    private AuditTrailAppFactory _app = null!;
    private RegisteredStorage _clients = null!;

    public ValueTask InitializeAsync()
    {
        _app = new AuditTrailAppFactory(azurite.ConnectionString, _clock);
        _clients = azurite.CreateClients();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _clients.Dispose();
        await _app.DisposeAsync();
    }

    private DateOnly FirstKept => RetentionService.FirstKeptDay(_clock.Now);

    private DateTimeOffset Day(int offsetFromFirstKept, TimeSpan timeOfDay) =>
        new DateTimeOffset(FirstKept.AddDays(offsetFromFirstKept).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + timeOfDay;

    /// <summary>Ingests with the clock set where ingestion accepts the events, then puts it back.</summary>
    private async Task SeedAsync(string ws, params (string Id, DateTimeOffset At)[] events)
    {
        var now = _clock.Now;
        _clock.Now = events.Max(e => e.At).AddMinutes(1);
        var result = await _app.Services.GetRequiredService<IngestionService>().IngestAsync(
            events.Select(e => RawEvent.FromText(TestEvents.Event(ws, e.Id, timestamp: e.At).ToJsonString())).ToList(), new IngestContext(IngestDoors.Http), Ct);
        _clock.Now = now;
        Assert.Equal(events.Length, result.Accepted);
    }

    private async Task<List<string>> StoredIdsAsync(string ws, DateTimeOffset day) =>
        (await _clients.Tables.GetTableClient(TrailTables.EventsTable).PartitionAsync(TrailKeys.PartitionKey(ws, day), Ct))
            .Where(r => r.RowKey.StartsWith("e_", StringComparison.Ordinal)).Select(r => r.GetString("EventId")!).ToList();

    private async Task<int> RowCountAsync(string ws, DateTimeOffset day) =>
        (await _clients.Tables.GetTableClient(TrailTables.EventsTable).PartitionAsync(TrailKeys.PartitionKey(ws, day), Ct)).Count;

    private async Task<bool> ClaimedAsync(string ws, string id) =>
        await _clients.Tables.GetTableClient(TrailTables.EventIdsTable).FindAsync(ws, TrailKeys.Encode(id), Ct) is not null;

    private async Task<bool> RegisteredAsync(string ws, DateTimeOffset day)
    {
        var key = day.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        var byDay = await _clients.Tables.GetTableClient(TrailTables.PartitionsTable).FindAsync(key, ws, Ct) is not null;
        var byWorkspace = await _clients.Tables.GetTableClient(TrailTables.WorkspaceDaysTable).FindAsync(ws, key, Ct) is not null;
        Assert.Equal(byDay, byWorkspace);
        return byDay;
    }

    [Fact]
    public async Task Events_on_the_boundary_are_kept_or_removed_exactly_as_documented_across_workspaces()
    {
        var ws1 = TestEvents.NewWorkspaceId();
        var ws2 = TestEvents.NewWorkspaceId();
        var untouched = TestEvents.NewWorkspaceId();
        var lastTickBefore = Day(0, TimeSpan.Zero).AddTicks(-1);
        var firstTickKept = Day(0, TimeSpan.Zero);
        await SeedAsync(ws1, ("old_edge", lastTickBefore), ("kept_edge", firstTickKept), ("old", Day(-5, TimeSpan.FromHours(12))));
        await SeedAsync(ws1, ("recent", _clock.Now.AddHours(-1)));
        await SeedAsync(ws2, ("old2", Day(-1, TimeSpan.FromHours(12))), ("kept2", Day(0, TimeSpan.FromHours(12))));
        await SeedAsync(untouched, ("a", Day(1, TimeSpan.FromHours(3))), ("b", _clock.Now.AddMinutes(-5)));

        var report = await _app.Services.GetRequiredService<RetentionService>().PurgeAsync(cancellationToken: Ct);

        Assert.Equal(FirstKept, report.FirstKeptDay);
        Assert.Equal(DateOnly.FromDateTime(_clock.Now.AddDays(-90).UtcDateTime), report.FirstKeptDay);
        Assert.Empty(await StoredIdsAsync(ws1, lastTickBefore));
        Assert.Empty(await StoredIdsAsync(ws1, Day(-5, TimeSpan.Zero)));
        Assert.Empty(await StoredIdsAsync(ws2, Day(-1, TimeSpan.Zero)));
        Assert.Equal(0, await RowCountAsync(ws1, lastTickBefore)); // index rows too
        Assert.False(await ClaimedAsync(ws1, "old_edge"));
        Assert.False(await ClaimedAsync(ws2, "old2"));
        Assert.False(await RegisteredAsync(ws1, lastTickBefore));
        Assert.False(await RegisteredAsync(ws2, Day(-1, TimeSpan.Zero)));

        Assert.Equal(["kept_edge"], await StoredIdsAsync(ws1, firstTickKept));
        Assert.Equal(4, await RowCountAsync(ws1, firstTickKept));
        Assert.Equal(["recent"], await StoredIdsAsync(ws1, _clock.Now.AddHours(-1)));
        Assert.Equal(["kept2"], await StoredIdsAsync(ws2, Day(0, TimeSpan.Zero)));
        Assert.Equal(["a"], await StoredIdsAsync(untouched, Day(1, TimeSpan.Zero)));
        Assert.True(await ClaimedAsync(ws1, "kept_edge"));
        Assert.True(await RegisteredAsync(ws1, firstTickKept));
        Assert.True(await RegisteredAsync(untouched, Day(1, TimeSpan.Zero)));

        var mine = report.Partitions.Where(p => p.WorkspaceId == ws1 || p.WorkspaceId == ws2).OrderBy(p => p.Day).ToList();
        Assert.Equal([(ws1, FirstKept.AddDays(-5), 4L, 1L), (ws1, FirstKept.AddDays(-1), 4L, 1L), (ws2, FirstKept.AddDays(-1), 4L, 1L)],
            mine.Select(p => (p.WorkspaceId, p.Day, p.EventRows, p.IdClaims)).OrderBy(p => p.Day).ThenBy(p => p.WorkspaceId == ws2));
    }

    [Fact]
    public async Task An_immediate_second_run_deletes_nothing()
    {
        var ws = TestEvents.NewWorkspaceId();
        await SeedAsync(ws, ("old", Day(-3, TimeSpan.FromHours(1))), ("kept", Day(2, TimeSpan.FromHours(1))));
        var retention = _app.Services.GetRequiredService<RetentionService>();

        var first = await retention.PurgeAsync(cancellationToken: Ct);
        var second = await retention.PurgeAsync(cancellationToken: Ct);

        Assert.Contains(first.Partitions, p => p.WorkspaceId == ws);
        Assert.Empty(second.Partitions);
        Assert.Equal((0L, 0L, 0), (second.EventRows, second.IdClaims, second.DeadLetterBlobs));
        Assert.Equal(["kept"], await StoredIdsAsync(ws, Day(2, TimeSpan.Zero)));
    }

    [Fact]
    public async Task Claims_left_without_rows_go_with_their_day_and_a_dry_run_counts_them_once()
    {
        var ws = TestEvents.NewWorkspaceId();
        var orphanAt = Day(-3, TimeSpan.FromHours(10));
        await SeedAsync(ws, ("old", Day(-3, TimeSpan.FromHours(1))), ("kept", Day(0, TimeSpan.FromMinutes(1))));
        // An ingest on that day whose rows never reached storage, and was never replayed.
        await using (var storage = new FaultyStorage(azurite.ConnectionString))
        await using (var failing = new AuditTrailAppFactory(storage.ConnectionString, _clock, storageRetries: 0))
        {
            var now = _clock.Now;
            _clock.Now = orphanAt.AddMinutes(1);
            storage.Faults = r => r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.ServerBusy) : null;
            await Assert.ThrowsAnyAsync<Exception>(() => failing.Services.GetRequiredService<IngestionService>().IngestAsync(
                [RawEvent.FromText(TestEvents.Event(ws, "orphan", timestamp: orphanAt).ToJsonString())], new IngestContext(IngestDoors.Http), Ct));
            _clock.Now = now;
        }
        Assert.True(await ClaimedAsync(ws, "orphan"));
        var retention = _app.Services.GetRequiredService<RetentionService>();

        var dry = await retention.PurgeAsync(dryRun: true, Ct);
        var wet = await retention.PurgeAsync(cancellationToken: Ct);

        // The old event's claim and the orphan, each once: the dry run does not count the old event's twice.
        Assert.Equal(1, Assert.Single(dry.Partitions, p => p.WorkspaceId == ws).IdClaims);
        Assert.Equal(1, Assert.Single(wet.Partitions, p => p.WorkspaceId == ws).IdClaims);
        Assert.True(dry.IdClaims >= 2 && wet.IdClaims >= 2, $"dry {dry.IdClaims}, wet {wet.IdClaims}");
        Assert.False(await ClaimedAsync(ws, "orphan"));
        Assert.False(await ClaimedAsync(ws, "old"));
        Assert.True(await ClaimedAsync(ws, "kept"));
        Assert.Equal(["kept"], await StoredIdsAsync(ws, Day(0, TimeSpan.Zero)));
    }

    [Fact]
    public async Task Dry_run_reports_what_would_go_and_deletes_nothing()
    {
        var ws = TestEvents.NewWorkspaceId();
        await SeedAsync(ws, ("old1", Day(-2, TimeSpan.FromHours(1))), ("old2", Day(-2, TimeSpan.FromHours(2))));

        var report = await _app.Services.GetRequiredService<RetentionService>().PurgeAsync(dryRun: true, Ct);

        var p = Assert.Single(report.Partitions, p => p.WorkspaceId == ws);
        Assert.Equal((8L, 2L), (p.EventRows, p.IdClaims));
        Assert.True(report.DryRun);
        Assert.Equal(2, (await StoredIdsAsync(ws, Day(-2, TimeSpan.Zero))).Count);
        Assert.True(await RegisteredAsync(ws, Day(-2, TimeSpan.Zero)));
    }

    [Fact]
    public async Task A_purge_cancelled_midway_is_completed_by_the_next_run()
    {
        var workspaces = Enumerable.Range(0, 3).Select(_ => TestEvents.NewWorkspaceId()).ToList();
        foreach (var ws in workspaces)
        {
            await SeedAsync(ws, Enumerable.Range(0, 60).Select(i => ($"evt_{i}", Day(-4, TimeSpan.FromMinutes(i)))).ToArray());
        }
        // Cut the run off midway, as a host shutdown or timeout would. Each partition needs one claim
        // transaction and three row transactions; whatever the interleaving, by the sixth at least
        // two row transactions have gone out, and six of the twelve are still to come.
        using var cut = new CancellationTokenSource();
        var counting = new CancelAfterTransactions(6, cut) { InnerHandler = new SocketsHttpHandler() };
        using var clients = azurite.CreateClients(counting);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var interrupted = new RetentionService(store, clients.Blobs, _clock, NullLogger<RetentionService>.Instance);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => interrupted.PurgeAsync(cancellationToken: cut.Token));

        var remaining = 0;
        foreach (var ws in workspaces)
        {
            remaining += await RowCountAsync(ws, Day(-4, TimeSpan.Zero));
        }
        Assert.InRange(remaining, 1, (3 * 240) - 1); // some deleted, some left
        Assert.Contains(true, await Task.WhenAll(workspaces.Select(ws => RegisteredAsync(ws, Day(-4, TimeSpan.Zero)))));

        await _app.Services.GetRequiredService<RetentionService>().PurgeAsync(cancellationToken: Ct);

        foreach (var ws in workspaces)
        {
            Assert.Equal(0, await RowCountAsync(ws, Day(-4, TimeSpan.Zero)));
            Assert.False(await RegisteredAsync(ws, Day(-4, TimeSpan.Zero)));
            Assert.False(await ClaimedAsync(ws, "evt_0"));
        }
    }

    [Fact]
    public async Task Dead_letters_past_retention_are_removed_and_newer_ones_kept()
    {
        var ws = TestEvents.NewWorkspaceId();
        var ingestion = _app.Services.GetRequiredService<IngestionService>();
        var now = _clock.Now;
        var (oldDay, keptDay) = (Day(-1, TimeSpan.FromHours(5)), Day(0, TimeSpan.FromHours(5))); // before moving the clock: Day() is relative to it
        _clock.Now = oldDay;
        var old = await ingestion.IngestAsync([RawEvent.FromText("{\"id\":\"old\",\"workspaceId\":\"" + ws + "\"}")], new IngestContext(IngestDoors.Http), Ct);
        _clock.Now = keptDay;
        var kept = await ingestion.IngestAsync([RawEvent.FromText("{\"id\":\"kept\",\"workspaceId\":\"" + ws + "\"}")], new IngestContext(IngestDoors.Http), Ct);
        _clock.Now = now;

        var report = await _app.Services.GetRequiredService<RetentionService>().PurgeAsync(cancellationToken: Ct);

        var container = _clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer);
        Assert.True(report.DeadLetterBlobs >= 1);
        Assert.Null(await container.ReadTextAsync(old.DeadLetterBlob!, Ct));
        Assert.NotNull(await container.ReadTextAsync(kept.DeadLetterBlob!, Ct));
    }

    [Fact]
    public async Task Timer_invocation_from_the_host_runs_the_purge()
    {
        var ws = TestEvents.NewWorkspaceId();
        await SeedAsync(ws, ("old", Day(-1, TimeSpan.FromHours(1))));
        using var http = _app.CreateClient();
        var payload = """{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"PurgeExpiredAuditEvents"}}}""";

        var response = await http.PostAsync("/PurgeExpiredAuditEvents", new StringContent(payload, Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var log = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("Logs")[0].GetString();
        Assert.Contains($"before {FirstKept:yyyy-MM-dd} (the first day kept, UTC)", log, StringComparison.Ordinal);
        Assert.Empty(await StoredIdsAsync(ws, Day(-1, TimeSpan.Zero)));
    }

    [Fact]
    public async Task Dry_run_command_prints_each_partition_and_a_summary()
    {
        var ws = TestEvents.NewWorkspaceId();
        await SeedAsync(ws, ("old", Day(-6, TimeSpan.FromHours(1))));
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await RetentionCommand.RunAsync(_app.Services, ["retention", "purge", "--dry-run"], output, error, Ct);

        Assert.Equal(0, exit);
        Assert.Contains($"would purge  {ws}  {FirstKept.AddDays(-6):yyyy-MM-dd}  4 rows  1 id claims", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("Dry run: would remove", output.ToString(), StringComparison.Ordinal);
        Assert.Single(await StoredIdsAsync(ws, Day(-6, TimeSpan.Zero)));
    }

    [Fact]
    public void Standalone_timer_uses_the_schedule_of_the_function_json_the_host_reads()
    {
        var schedule = AuditTrail.Functions.FunctionsHost.StandaloneTimer.ReadSchedule(AuditTrail.Functions.FunctionsHost.StandaloneTimer.FunctionJsonPath(RetentionApi.TimerFunction));

        Assert.Equal(new DateTime(2026, 11, 24, 2, 30, 0), schedule.GetNextOccurrence(new DateTime(2026, 11, 23, 12, 0, 0)));
        Assert.Equal(new DateTime(2026, 11, 23, 2, 30, 0), schedule.GetNextOccurrence(new DateTime(2026, 11, 23, 0, 0, 0)));
    }

    /// <summary>Cancels the run once a number of entity-group transactions have gone out.</summary>
    private sealed class CancelAfterTransactions(int transactions, CancellationTokenSource cut) : DelegatingHandler
    {
        private int _seen;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/$batch", StringComparison.Ordinal) && Interlocked.Increment(ref _seen) == transactions)
            {
                cut.Cancel();
            }
            return base.SendAsync(request, cancellationToken);
        }
    }
}
