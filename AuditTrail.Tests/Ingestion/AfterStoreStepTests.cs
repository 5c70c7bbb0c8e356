using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Tests.Ingestion;

/// <summary>The seam later features plug into: ingest runs its after-store steps in order, once per event where a step marks claims, and stops at one that throws.</summary>
public sealed class AfterStoreStepTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow.AddHours(-1);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Steps_run_in_registration_order_and_a_step_with_a_claim_mark_once_per_event()
    {
        var ws = TestEvents.NewWorkspaceId();
        var calls = new List<string>();
        var marked = new RecordingStep("marked", "TestStepMark", calls);
        var every = new RecordingStep("every", null, calls);
        using var clients = azurite.CreateClients();
        var ingestion = Ingestion(new TrailTables(clients.Tables, clients.Blobs), marked, every);

        await ingestion.IngestAsync(Batch(ws, "evt_a", "evt_b"), new IngestContext(IngestDoors.Http), Ct);
        var replay = await ingestion.IngestAsync(Batch(ws, "evt_a", "evt_b"), new IngestContext(IngestDoors.Http), Ct);

        // The replay's events are in the trail (duplicates): the unmarked step sees them again, the marked one does not.
        Assert.Equal(2, replay.Duplicates);
        Assert.Equal(["marked: evt_a evt_b", "every: evt_a evt_b", "every: evt_a evt_b"], calls);
        var claim = await clients.Tables.GetTableClient(TrailTables.EventIdsTable).FindAsync(ws, TrailKeys.Encode("evt_a"), Ct);
        Assert.Equal("marked:evt_a", claim!.GetString("TestStepMark"));
    }

    [Fact]
    public async Task A_step_that_throws_stops_the_batch_before_later_steps_and_the_replay_runs_them_all()
    {
        var ws = TestEvents.NewWorkspaceId();
        var calls = new List<string>();
        var failing = new RecordingStep("failing", "TestStepMark", calls) { FailuresLeft = 1 };
        var later = new RecordingStep("later", null, calls);
        using var clients = azurite.CreateClients();
        var ingestion = Ingestion(new TrailTables(clients.Tables, clients.Blobs), failing, later);

        await Assert.ThrowsAsync<InvalidOperationException>(() => ingestion.IngestAsync(Batch(ws, "evt_a"), new IngestContext(IngestDoors.Http), Ct));
        Assert.Equal(["failing: evt_a"], calls);

        await ingestion.IngestAsync(Batch(ws, "evt_a"), new IngestContext(IngestDoors.Http), Ct);

        // Nothing marked the claim, so the replay gives the failed step the event again.
        Assert.Equal(["failing: evt_a", "failing: evt_a", "later: evt_a"], calls);
    }

    private static IngestionService Ingestion(TrailTables store, params IAfterStoreStep[] steps) =>
        new(store, new DeadLetterStore(store), TimeProvider.System, NullLogger<IngestionService>.Instance, afterStore: steps);

    private static List<RawEvent> Batch(string ws, params string[] ids) =>
        ids.Select(id => RawEvent.FromText(TestEvents.Event(ws, id, timestamp: At).ToJsonString())).ToList();

    private sealed class RecordingStep(string name, string? mark, List<string> calls) : IAfterStoreStep
    {
        public int FailuresLeft { get; set; }

        public string? ClaimMark => mark;

        public Task<IReadOnlyList<MarkedEvent>> RunAsync(IReadOnlyList<StoredEvent> stored, CancellationToken cancellationToken)
        {
            calls.Add($"{name}: {string.Join(' ', stored.Select(s => s.Event.Id))}");
            if (FailuresLeft-- > 0)
            {
                throw new InvalidOperationException("The step failed.");
            }
            IReadOnlyList<MarkedEvent> marks = mark is null ? [] : stored.Select(s => new MarkedEvent(s, $"{name}:{s.Event.Id}")).ToList();
            return Task.FromResult(marks);
        }
    }
}
