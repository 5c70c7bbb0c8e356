using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Demo;

/// <summary>What a seeding did: whether the workspace already had the demo trail, and the ingest counts.</summary>
public sealed record DemoSeedResult(bool AlreadySeeded, int Received, int Accepted, int Duplicates, int Rejected);

/// <summary>
/// Fills a demo workspace with <see cref="DemoTrail"/> once, through the ingestion service (so its
/// rows, indexes and registry are exactly what producers' events get).
/// </summary>
/// <remarks>
/// Once: a workspace whose first demo event id is claimed is left alone, on any later day. Within
/// the first day a rerun generates the very same events (the trail is anchored at the start of
/// the UTC day), so a run that stopped half-way resumes and the rest are counted as duplicates.
/// </remarks>
public sealed class DemoTrailSeeder(TrailTables store, IngestionService ingestion, TimeProvider time, ILogger<DemoTrailSeeder> logger)
{
    public async Task<DemoSeedResult> SeedAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspaceId);
        await store.EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        var anchor = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var events = DemoTrail.Generate(workspaceId, anchor);
        var first = await store.Claims.FindAsync(workspaceId, DemoTrail.FirstEventId, cancellationToken);
        if (first?.Timestamp is { } received && received < anchor)
        {
            logger.LogInformation("Demo workspace {WorkspaceId} was seeded on {SeededAt}; nothing added", workspaceId, received);
            return new DemoSeedResult(true, 0, 0, 0, 0);
        }
        int receivedCount = 0, accepted = 0, duplicates = 0, rejected = 0;
        foreach (var chunk in events.Chunk(100))
        {
            var batch = chunk.Select(e => RawEvent.FromText(e.ToJsonString())).ToList();
            var result = await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.Http, workspaceId), cancellationToken);
            receivedCount += result.Received;
            accepted += result.Accepted;
            duplicates += result.Duplicates;
            rejected += result.Rejected.Count;
        }
        logger.LogInformation("Demo workspace {WorkspaceId} seeded: {Accepted} accepted, {Duplicates} duplicates, {Rejected} rejected", workspaceId, accepted, duplicates, rejected);
        return new DemoSeedResult(accepted == 0 && duplicates == receivedCount, receivedCount, accepted, duplicates, rejected);
    }
}
