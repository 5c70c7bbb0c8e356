using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AuditTrail.Tests.Query;

/// <summary>
/// How a page reads its days: the registry and the newest day together, then the next days in
/// parallel when the newest comes up short. The transport holds every storage request for a
/// moment, so requests the service sends together are seen in flight together.
/// </summary>
public sealed class QueryReadAheadTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Noon yesterday, whenever the test runs: how full "today" is must not depend on the hour.
    private readonly TestClock _clock = new(new DateTimeOffset(DateTime.UtcNow.Date.AddHours(-12), TimeSpan.Zero));

    /// <summary>Counts the trail's table reads and how many were in flight at once.</summary>
    private sealed class ReadCounter() : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _inFlight;
        private int _maxInFlight;
        private int _eventReads;
        private int _registryReads;

        public int MaxInFlight => Volatile.Read(ref _maxInFlight);
        public int InFlight => Volatile.Read(ref _inFlight);
        public int EventReads => Volatile.Read(ref _eventReads);
        public int RegistryReads => Volatile.Read(ref _registryReads);

        public void Reset()
        {
            Volatile.Write(ref _maxInFlight, 0);
            Volatile.Write(ref _eventReads, 0);
            Volatile.Write(ref _registryReads, 0);
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            var read = request.Method == HttpMethod.Get && (path.Contains("/" + TrailTables.EventsTable + "()", StringComparison.Ordinal) || path.Contains("/" + TrailTables.WorkspaceDaysTable + "()", StringComparison.Ordinal));
            if (!read)
            {
                return await base.SendAsync(request, cancellationToken);
            }
            if (path.Contains(TrailTables.EventsTable, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _eventReads);
            }
            else
            {
                Interlocked.Increment(ref _registryReads);
            }
            var now = Interlocked.Increment(ref _inFlight);
            InterlockedMax(ref _maxInFlight, now);
            try
            {
                await Task.Delay(100, cancellationToken);
                return await base.SendAsync(request, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }

    /// <summary>A workspace with <paramref name="perDay"/> events a day for <paramref name="days"/> days before noon yesterday, the actor usr_sparse on one in four.</summary>
    private async Task<(string Workspace, List<string> SparseNewestFirst)> SeedAsync(AuditTrail.TestSupport.RegisteredStorage clients, int days, int perDay)
    {
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var ingestion = new IngestionService(store, new DeadLetterStore(store), _clock, NullLogger<IngestionService>.Instance);
        var ws = TestEvents.NewWorkspaceId();
        var now = _clock.Now.AddMinutes(-1);
        var events = Enumerable.Range(0, days * perDay)
            .Select(i => (Id: $"evt_{i:D4}", At: now.AddMinutes(-i * 24.0 * 60 / perDay), Actor: i % 4 == 0 ? "usr_sparse" : "usr_busy"))
            .ToList();
        var raw = events.Select(e => RawEvent.FromText(TestEvents.Event(ws, e.Id, timestamp: e.At, actorId: e.Actor).ToJsonString())).ToList();
        var result = await ingestion.IngestAsync(raw, new IngestContext(IngestDoors.Http), Ct);
        Assert.Empty(result.Rejected);
        return (ws, events.Where(e => e.Actor == "usr_sparse").Select(e => e.Id).ToList());
    }

    private TrailQueryService Service(TrailTables store, int maxParallelDays) =>
        new(store, _clock, Options.Create(new QueryOptions { MaxParallelDays = maxParallelDays }));

    private AuditQuery Query(string ws, string? actorId, int limit) =>
        new(ws, _clock.Now.AddDays(-30), _clock.Now.AddMinutes(5), [], null, actorId, null, null, null, limit);

    private static async Task<(List<string> Ids, List<QueryPosition?> Positions)> PageAllAsync(TrailQueryService service, AuditQuery query)
    {
        var ids = new List<string>();
        var positions = new List<QueryPosition?>();
        QueryPosition? from = null;
        do
        {
            var page = await service.QueryAsync(query, from, Ct);
            ids.AddRange(page.Events.Select(e => e.Id));
            positions.Add(page.Next);
            from = page.Next;
        }
        while (from is not null);
        return (ids, positions);
    }

    [Fact]
    public async Task Reading_days_in_parallel_returns_the_same_pages_as_reading_them_one_by_one()
    {
        var counter = new ReadCounter();
        using var clients = azurite.CreateClients(counter);
        var (ws, sparse) = await SeedAsync(clients, days: 12, perDay: 8);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var query = Query(ws, "usr_sparse", limit: 5);

        counter.Reset();
        var oneByOne = await PageAllAsync(Service(store, 1), query);
        var sequentialMax = counter.MaxInFlight;
        counter.Reset();
        var parallel = await PageAllAsync(Service(store, 8), query);

        Assert.Equal(sparse, oneByOne.Ids);
        Assert.Equal(sparse, parallel.Ids);
        Assert.Equal(oneByOne.Positions, parallel.Positions);
        // One by one, only the registry and the newest day overlap; in parallel, the days read ahead do too.
        Assert.Equal(2, sequentialMax);
        Assert.True(counter.MaxInFlight > 2, $"At most {counter.MaxInFlight} reads were in flight at once.");
    }

    [Theory]
    [InlineData(null, 20, 1, 2)] // the registry and the newest day, together
    [InlineData("usr_sparse", 5, 2, 3)] // an actor: the day before the newest too, in the same round trip
    public async Task A_page_the_newest_day_fills_takes_one_round_trip(string? actorId, int limit, int dayReads, int inFlight)
    {
        var counter = new ReadCounter();
        using var clients = azurite.CreateClients(counter);
        var (ws, sparse) = await SeedAsync(clients, days: 3, perDay: 60);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var service = Service(store, 8);
        await service.QueryAsync(Query(ws, null, 5), null, Ct); // opens the connections

        counter.Reset();
        var page = await service.QueryAsync(Query(ws, actorId, limit), null, Ct);

        Assert.Equal(limit, page.Events.Count);
        Assert.NotNull(page.Next);
        if (actorId is not null)
        {
            Assert.Equal(sparse.Take(limit), page.Events.Select(e => e.Id));
        }
        Assert.Equal((1, dayReads, inFlight), (counter.RegistryReads, counter.EventReads, counter.MaxInFlight));
    }

    [Fact]
    public async Task No_read_is_left_running_once_a_page_is_returned()
    {
        var counter = new ReadCounter();
        using var clients = azurite.CreateClients(counter);
        var (ws, sparse) = await SeedAsync(clients, days: 20, perDay: 4);
        var store = new TrailTables(clients.Tables, clients.Blobs);

        // A filter that matches nothing reads every day, as many at once as allowed; one that
        // fills its page early leaves reads ahead that must be cancelled and awaited.
        var none = await Service(store, 8).QueryAsync(Query(ws, "usr_nobody", 10), null, Ct);
        Assert.Equal(0, counter.InFlight);
        var page = await Service(store, 8).QueryAsync(Query(ws, "usr_sparse", 3), null, Ct);

        Assert.Empty(none.Events);
        Assert.Equal(sparse.Take(3), page.Events.Select(e => e.Id));
        Assert.Equal(0, counter.InFlight);
    }

    [Fact]
    public async Task Reads_ahead_of_large_events_stay_within_the_byte_budget_and_every_page_is_the_same()
    {
        using var clients = azurite.CreateClients();
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var ingestion = new IngestionService(store, new DeadLetterStore(store), _clock, NullLogger<IngestionService>.Instance);
        var ws = TestEvents.NewWorkspaceId();
        // Every four hours for 12 days, each event about 20 KB (40 KB held): six a day after the first.
        var events = Enumerable.Range(0, 69).Select(i =>
        {
            var e = TestEvents.Event(ws, $"evt_big_{i:D2}", timestamp: _clock.Now.AddMinutes(-1).AddHours(-4 * i));
            e["properties"] = new JsonObject { ["blob"] = new string((char)('a' + i % 26), 20_000) };
            return RawEvent.FromText(e.ToJsonString());
        }).ToList();
        foreach (var batch in events.Chunk(20))
        {
            Assert.Empty((await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http), Ct)).Rejected);
        }
        var expected = Enumerable.Range(0, 69).Select(i => $"evt_big_{i:D2}").ToList();
        const long budget = 100_000; // two of these events
        using var metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = metrics.GetRequiredService<IMeterFactory>();
        var peaks = new List<long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == TrailQueryService.ReadAheadPeakInstrument)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) =>
        {
            lock (peaks)
            {
                peaks.Add(value);
            }
        });
        listener.Start();
        TrailQueryService Budgeted(long bytes) => new(store, _clock, Options.Create(new QueryOptions { MaxParallelDays = 8, MaxReadAheadBytes = bytes }), meters);
        var query = Query(ws, null, limit: 20);

        var oneByOne = await PageAllAsync(Service(store, 1), query);
        var bounded = await PageAllAsync(Budgeted(budget), query);
        var boundedPeaks = peaks.ToList();
        peaks.Clear();
        var unbounded = await PageAllAsync(Budgeted(QueryOptions.DefaultMaxReadAheadBytes), query);

        Assert.Equal(expected, oneByOne.Ids);
        Assert.Equal(expected, bounded.Ids);
        Assert.Equal(oneByOne.Positions, bounded.Positions);
        Assert.Equal(4, boundedPeaks.Count); // one figure a page
        Assert.All(boundedPeaks, peak => Assert.InRange(peak, 0, budget));
        // The same pages with the default budget hold more than this one allows: the bound was what held them back.
        Assert.Equal(expected, unbounded.Ids);
        Assert.True(peaks.Max() > budget, $"Reads ahead held at most {peaks.Max()} bytes without the small budget.");
    }

    [Fact]
    public void The_read_ahead_budget_is_validated_at_start()
    {
        var services = new ServiceCollection().AddLogging();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["AuditTrail:Query:MaxReadAheadBytes"] = "1000" }).Build();
        AuditTrail.Core.AuditTrailCoreServiceCollectionExtensions.AddAuditTrailCore(services, configuration);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("MaxReadAheadBytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(32L * 1024 * 1024, new QueryOptions().MaxReadAheadBytes);
    }
}
