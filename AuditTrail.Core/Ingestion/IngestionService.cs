using System.Collections.Concurrent;
using System.Collections.Immutable;
using AuditTrail.Core.Events;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// The one ingestion path behind both doors (Event Hubs and HTTP). Validates each event, then
/// stores the valid ones append-only:
/// <list type="number">
/// <item>registers each workspace-day in <c>AuditPartitions</c>, so retention finds every partition that may hold rows;</item>
/// <item>claims each (workspace, event id) in <c>AuditEventIds</c> with an insert: a claim that exists with the same
/// content hash is a duplicate, with another hash a conflict (dead-lettered; the stored event is untouched);</item>
/// <item>writes each claimed event's primary and index rows in entity-group transactions per partition;</item>
/// <item>runs the registered after-store steps over the stored events, in registration order (<see cref="IAfterStoreStep"/>:
/// the integrity ledger, then the forwarding outbox).</item>
/// </list>
/// Rows are written only for claimed ids with the claim's own content, receive time and door, so a
/// replay after a crash between steps 2 and 3 completes the event with identical rows and can
/// never alter one. Rejected events go to the dead-letter container. Storage failures propagate:
/// the caller must not acknowledge the batch.
/// </summary>
public sealed class IngestionService(TrailTables store, DeadLetterStore deadLetters, TimeProvider time, ILogger<IngestionService> logger,
    IEnumerable<IAfterStoreStep>? afterStore = null, AuditTrailTelemetry? telemetry = null)
{
    private const int Parallelism = 8;
    private const int TransactionByteBudget = TableTransactions.MaxBytes - (256 * 1024);
    private const int MaxRegisteredPartitionsCached = 100_000;

    /// <summary>
    /// How old a claim without rows must be to count as orphaned: longer than any call that could
    /// still be writing them runs (an API request's storage deadline is at most 200 s; a host
    /// invocation at most its 10-minute function timeout).
    /// </summary>
    public static readonly TimeSpan OrphanAfter = TimeSpan.FromMinutes(15);

    private readonly ConcurrentDictionary<(string WorkspaceId, DateOnly Day), byte> _registeredPartitions = new();
    private readonly IAfterStoreStep[] _afterStore = afterStore?.ToArray() ?? [];

    /// <summary>
    /// Ingests producers' events (the HTTP and Event Hubs doors). Events of a reserved type
    /// (<see cref="EventCatalog.IsReserved"/>) or with an id in the trail's namespace
    /// (<see cref="TrailRecordIds"/>) are refused one by one; their valid siblings are stored.
    /// </summary>
    public Task<IngestResult> IngestAsync(IReadOnlyList<RawEvent> batch, IngestContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(context);
        // The trail's own door is reached only through RecordOwnAsync: a caller naming it here
        // would be a way around the reservation.
        return context.Door == IngestDoors.System
            ? throw new ArgumentException("The trail's own records are stored through ActionRecorder, not as a producer's batch.", nameof(context))
            : IngestCoreAsync(batch, context, cancellationToken);
    }

    /// <summary>
    /// Stores one event the trail records about its own action (<see cref="ActionRecorder"/>): the
    /// only path on which a reserved type and the trail's id namespace are allowed. Internal, so no
    /// door can reach it.
    /// </summary>
    internal Task<IngestResult> RecordOwnAsync(RawEvent record, CancellationToken cancellationToken) =>
        IngestCoreAsync([record], new IngestContext(IngestDoors.System), cancellationToken);

    private async Task<IngestResult> IngestCoreAsync(IReadOnlyList<RawEvent> batch, IngestContext context, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var rejected = new List<(IngestRejection Rejection, RawEvent Raw)>();
        var candidates = Screen(batch, context, now, rejected);
        var duplicates = 0;

        if (candidates.Count > 0)
        {
            await store.EnsureCreatedAsync(cancellationToken);
            await RegisterPartitionsAsync(candidates, cancellationToken);
            // The rows are built and measured while the claims are in flight, as they will be when
            // every claim is new; a duplicate takes its stored claim's receive time and door, and a
            // conflict writes nothing, so then they are built again from the settled claims.
            var packing = Task.Run(() => PackRows(candidates.Select(c => (c, now, context.Door)), store.Events.Uri), cancellationToken);
            // Both awaited, so a failure of either is seen; the claims' is the one reported.
            await Task.WhenAll(ClaimIdsAsync(candidates, cancellationToken), packing);
            var rows = await packing;
            if (candidates.Any(c => c.Outcome != ClaimOutcome.Claimed))
            {
                rows = PackRows(candidates.Where(c => c.Outcome is ClaimOutcome.Claimed or ClaimOutcome.Duplicate).Select(c => (c, c.ReceivedAt, c.Door)), store.Events.Uri);
            }
            await WriteRowsAsync(rows, cancellationToken);
            await RunAfterStoreStepsAsync(candidates, cancellationToken);
            duplicates = Settle(candidates, rejected);
        }

        string? deadLetterBlob = null;
        if (rejected.Count > 0)
        {
            await store.EnsureCreatedAsync(cancellationToken);
            rejected.Sort((a, b) => a.Rejection.Index.CompareTo(b.Rejection.Index));
            deadLetterBlob = await deadLetters.WriteAsync(rejected, context, now, cancellationToken);
        }

        var accepted = candidates.Count(c => c.Outcome == ClaimOutcome.Claimed);
        var uncataloged = candidates.Where(c => c.Outcome == ClaimOutcome.Claimed && !c.Event.Cataloged)
            .Select(c => c.Event.Type).Distinct(StringComparer.Ordinal).ToList();
        telemetry?.Ingested(context.Door, accepted, duplicates, rejected.Select(r => r.Rejection.Code));
        logger.LogInformation(
            "Ingested {Received} events via {Door}: {Accepted} accepted, {Duplicates} duplicates, {Rejected} rejected (dead letters {DeadLetterBlob}); invocation {InvocationId}",
            batch.Count, context.Door, accepted, duplicates, rejected.Count, deadLetterBlob, context.InvocationId);
        return new IngestResult(batch.Count, accepted, duplicates, rejected.Select(r => r.Rejection).ToList(), uncataloged, deadLetterBlob);
    }

    /// <summary>
    /// Reads and checks each event of the batch: the refused go to <paramref name="rejected"/>; of
    /// copies of one id in the batch, the first is the candidate and the others share its outcome
    /// (or are refused as a conflict when their content differs).
    /// </summary>
    private static List<Candidate> Screen(IReadOnlyList<RawEvent> batch, IngestContext context, DateTimeOffset now, List<(IngestRejection Rejection, RawEvent Raw)> rejected)
    {
        var candidates = new List<Candidate>();
        var byId = new Dictionary<(string, string), Candidate>();
        // Marks this call's claims, so a claim whose insert reached storage but whose answer was
        // lost (the retry then meets EntityAlreadyExists) is still counted as accepted, once.
        var claimToken = Guid.NewGuid().ToString("N");
        for (var i = 0; i < batch.Count; i++)
        {
            var read = AuditEventReader.Read(batch[i], i, context.WorkspaceId, now);
            if (read.Rejection is { } rejection)
            {
                rejected.Add((rejection, batch[i]));
                continue;
            }
            var e = read.Event!;
            // Only the trail's own door (RecordOwnAsync; IngestAsync refuses it) may store reserved events.
            if (context.Door != IngestDoors.System && Reservation(e, i) is { } reserved)
            {
                rejected.Add((reserved, batch[i]));
                continue;
            }
            var candidate = new Candidate(i, e, EventRows.ContentHash(e), batch[i], claimToken) { ReceivedAt = now, Door = context.Door };
            if (byId.TryGetValue((e.WorkspaceId, e.Id), out var earlier))
            {
                if (earlier.Hash == candidate.Hash)
                {
                    earlier.Copies.Add((i, batch[i])); // settled with the first copy, once its claim is known
                }
                else
                {
                    rejected.Add((ConflictRejection(candidate, "earlier in the same batch"), batch[i]));
                }
                continue;
            }
            byId.Add((e.WorkspaceId, e.Id), candidate);
            candidates.Add(candidate);
        }
        return candidates;
    }

    /// <summary>The stored candidates' outcomes: conflicts and unstorable events (with their copies) are refused; returns the duplicates.</summary>
    private static int Settle(List<Candidate> candidates, List<(IngestRejection Rejection, RawEvent Raw)> rejected)
    {
        var duplicates = 0;
        foreach (var c in candidates)
        {
            switch (c.Outcome)
            {
                case ClaimOutcome.Conflict:
                    rejected.Add((ConflictRejection(c, "already stored"), c.Raw));
                    rejected.AddRange(c.Copies.Select(copy => (ConflictRejection(c, "already stored") with { Index = copy.Index }, copy.Raw)));
                    break;
                case ClaimOutcome.Unstorable:
                    rejected.Add((c.StorageRejection!, c.Raw));
                    rejected.AddRange(c.Copies.Select(copy => (c.StorageRejection! with { Index = copy.Index }, copy.Raw)));
                    break;
                case ClaimOutcome.Duplicate:
                    duplicates += 1 + c.Copies.Count;
                    break;
                default:
                    duplicates += c.Copies.Count;
                    break;
            }
        }
        return duplicates;
    }

    /// <summary>
    /// Keeps input that could not even be split into events (an unreadable invocation payload) as
    /// one dead letter, so the source can move on without losing it.
    /// </summary>
    public Task<string> DeadLetterUnreadableAsync(string rawText, string code, string reason, IngestContext context, CancellationToken cancellationToken = default) =>
        DeadLetterUnreadableAsync(RawEvent.FromText(rawText), code, reason, context, cancellationToken);

    /// <inheritdoc cref="DeadLetterUnreadableAsync(string, string, string, IngestContext, CancellationToken)"/>
    public Task<string> DeadLetterUnreadableAsync(ReadOnlyMemory<byte> rawUtf8, string code, string reason, IngestContext context, CancellationToken cancellationToken = default) =>
        DeadLetterUnreadableAsync(RawEvent.FromUtf8(rawUtf8), code, reason, context, cancellationToken);

    private async Task<string> DeadLetterUnreadableAsync(RawEvent raw, string code, string reason, IngestContext context, CancellationToken cancellationToken)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var blob = await deadLetters.WriteAsync([(new IngestRejection(0, code, reason), raw)], context, time.GetUtcNow(), cancellationToken);
        logger.LogWarning("Dead-lettered an unreadable {Door} payload ({Code}: {Reason}) to {DeadLetterBlob}; invocation {InvocationId}",
            context.Door, code, reason, blob, context.InvocationId);
        return blob;
    }

    /// <summary>Why a producer may not post this event, or null: it would pass as the trail's own record.</summary>
    private static IngestRejection? Reservation(AuditEvent e, int index) =>
        EventCatalog.IsReserved(e.Type)
            ? new IngestRejection(index, RejectionCodes.ReservedType,
                $"Type '{e.Type}' is reserved: only the audit trail records events of its own product area ('{EventCatalog.TrailArea}').", "type", e.Id, e.WorkspaceId)
            : TrailRecordIds.IsReserved(e.Id)
                ? new IngestRejection(index, RejectionCodes.ReservedId,
                    $"Event ids starting with '{TrailRecordIds.Prefix}' are reserved for the audit trail's own records.", "id", e.Id, e.WorkspaceId)
                : null;

    private static IngestRejection ConflictRejection(Candidate c, string where) => new(
        c.Index, RejectionCodes.Conflict,
        $"Event id '{c.Event.Id}' is {where} in workspace '{c.Event.WorkspaceId}' with different content; the stored event was kept unchanged.",
        "id", c.Event.Id, c.Event.WorkspaceId);

    private async Task RegisterPartitionsAsync(List<Candidate> candidates, CancellationToken cancellationToken)
    {
        var missing = candidates
            .Select(c => (c.Event.WorkspaceId, Day: DayKeys.Day(c.Event.Timestamp)))
            .Distinct()
            .Where(p => !_registeredPartitions.ContainsKey(p))
            .ToList();
        // Both registries: by day (retention) and by workspace (queries).
        await store.Days.RegisterAsync(missing, cancellationToken);
        if (_registeredPartitions.Count > MaxRegisteredPartitionsCached)
        {
            _registeredPartitions.Clear();
        }
        foreach (var p in missing)
        {
            _registeredPartitions.TryAdd(p, 0);
        }
    }

    private async Task ClaimIdsAsync(List<Candidate> candidates, CancellationToken cancellationToken)
    {
        var chunks = candidates.GroupBy(c => c.Event.WorkspaceId)
            .SelectMany(ws => ws.Chunk(TableTransactions.MaxActions))
            .ToList();
        await Parallel.ForEachAsync(chunks, Options(cancellationToken), async (chunk, ct) =>
        {
            try
            {
                await store.Claims.ClaimAllAsync(chunk.Select(ClaimOf), ct);
                foreach (var c in chunk)
                {
                    c.Outcome = ClaimOutcome.Claimed;
                }
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409)
            {
                // Some ids are taken (a replay, or a reused id): settle each one on its own.
                await Parallel.ForEachAsync(chunk, Options(ct), async (c, innerCt) => await ClaimOneAsync(c, innerCt));
            }
        });
    }

    private async Task ClaimOneAsync(Candidate c, CancellationToken cancellationToken)
    {
        var claim = ClaimOf(c);
        // Two tries: an insert that loses a race to a concurrent producer is settled by reading the winner.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var existing = await store.Claims.FindAsync(c.Event.WorkspaceId, c.Event.Id, cancellationToken);
            if (existing is not null && existing.ContentHash != c.Hash && await IsOrphanAsync(existing, cancellationToken))
            {
                // A claim whose rows were never written (the call that made it failed, or crashed,
                // between the two and was never replayed): it stores nothing, so it may not refuse this
                // event as a conflict. Taken over only as it was read: a concurrent taker wins once.
                try
                {
                    await store.Claims.TakeOverAsync(existing, claim, cancellationToken);
                    c.Outcome = ClaimOutcome.Claimed;
                    logger.LogWarning("Claim of event {EventId} in {WorkspaceId}, made {ClaimedAt} without its rows, taken over by a new event",
                        c.Event.Id, c.Event.WorkspaceId, existing.ReceivedAt);
                    return;
                }
                catch (RequestFailedException ex) when (ex.Status is 404 or 412)
                {
                    continue; // changed or gone meanwhile: read it again
                }
            }
            if (existing is not null)
            {
                var same = existing.ContentHash == c.Hash && existing.EventId == c.Event.Id;
                var ours = same && existing.ClaimToken == c.ClaimToken;
                c.Outcome = ours ? ClaimOutcome.Claimed : same ? ClaimOutcome.Duplicate : ClaimOutcome.Conflict;
                if (same)
                {
                    c.Marks = _afterStore.Select(s => s.ClaimMark).OfType<string>().Where(existing.Marks.ContainsKey).ToHashSet(StringComparer.Ordinal);
                    // Repair rows exactly as first written.
                    c.ReceivedAt = existing.ReceivedAt ?? c.ReceivedAt;
                    c.Door = existing.Door ?? c.Door;
                }
                return;
            }
            try
            {
                await store.Claims.ClaimAsync(claim, cancellationToken);
                c.Outcome = ClaimOutcome.Claimed;
                return;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                // Lost the race; read the winner on the next pass.
            }
        }
        throw new InvalidOperationException($"Could not settle the claim for event id '{c.Event.Id}': it was taken and then gone twice.");
    }

    /// <summary>
    /// A claim older than any ingest can run (<see cref="OrphanAfter"/>) whose event row is not
    /// there. Younger ones may belong to a call still writing its rows, and are left alone.
    /// </summary>
    private async Task<bool> IsOrphanAsync(EventClaim claim, CancellationToken cancellationToken)
    {
        return claim.ReceivedAt is { } claimedAt && time.GetUtcNow() - claimedAt >= OrphanAfter
               && await store.Events.PrimaryRowExistsAsync(claim, cancellationToken) == false;
    }

    private static EventClaim ClaimOf(Candidate c) => EventClaim.For(c.Event, c.Hash, c.ReceivedAt, c.Door, c.ClaimToken);

    /// <summary>Each event's four rows, in transactions per partition filled to 100 actions or the byte budget.</summary>
    private static List<List<(Candidate Event, List<TableTransactionAction> Actions)>> PackRows(IEnumerable<(Candidate Event, DateTimeOffset ReceivedAt, string Door)> toWrite, Uri table)
    {
        // Transactions are filled by measured size, not an estimate: escaping makes text grow unevenly.
        var transactions = new List<List<(Candidate Event, List<TableTransactionAction> Actions)>>();
        foreach (var partition in toWrite.GroupBy(w => EventRows.PartitionKey(w.Event.Event)))
        {
            var current = new List<(Candidate, List<TableTransactionAction>)>();
            int operations = 0, bytes = 0;
            foreach (var (c, receivedAt, door) in partition)
            {
                // Upsert, not insert: only ids this batch claimed (or that were claimed with this exact content) get here.
                var eventRows = EventRows.Create(c.Event, c.Hash, receivedAt, door);
                c.PrimaryRow = eventRows[0];
                var actions = eventRows.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)).ToList();
                var size = actions.Sum(a => TableTransactions.Measure(a, table));
                if (current.Count > 0 && (operations + actions.Count > TableTransactions.MaxActions || bytes + size > TransactionByteBudget))
                {
                    transactions.Add(current);
                    current = [];
                    operations = bytes = 0;
                }
                current.Add((c, actions));
                operations += actions.Count;
                bytes += size;
            }
            if (current.Count > 0)
            {
                transactions.Add(current);
            }
        }
        return transactions;
    }

    /// <summary>
    /// Runs each after-store step over the events in the trail, known ones too: their first
    /// delivery may have failed between the rows and the steps. A step with a claim mark gets the
    /// events whose claim lacks it, and its marks are written before the next step runs; a crash
    /// between a step and its marks repeats the step on the replay (for the ledger: the event is
    /// recorded twice, in two intervals, with the same hash, which verification takes as one event,
    /// docs/integrity.md).
    /// </summary>
    private async Task RunAfterStoreStepsAsync(List<Candidate> candidates, CancellationToken cancellationToken)
    {
        var inTrail = candidates.Where(c => c.Outcome is ClaimOutcome.Claimed or ClaimOutcome.Duplicate && c.PrimaryRow is not null).ToList();
        foreach (var step in _afterStore)
        {
            var mark = step.ClaimMark;
            var due = mark is null ? inTrail : inTrail.Where(c => !c.Marks.Contains(mark)).ToList();
            if (due.Count == 0)
            {
                continue;
            }
            var marks = await step.RunAsync(due.Select(c => new StoredEvent(c.Event, c.PrimaryRow!)).ToList(), cancellationToken);
            if (mark is not null)
            {
                await MarkClaimsAsync(mark, marks, cancellationToken);
            }
        }
    }

    private async Task MarkClaimsAsync(string mark, IReadOnlyList<MarkedEvent> marks, CancellationToken cancellationToken)
    {
        var chunks = marks.GroupBy(m => m.Stored.Event.WorkspaceId, StringComparer.Ordinal).SelectMany(g => g.Chunk(TableTransactions.MaxActions)).ToList();
        await Parallel.ForEachAsync(chunks, Options(cancellationToken), async (chunk, ct) =>
        {
            await store.Claims.MarkAsync(mark, chunk[0].Stored.Event.WorkspaceId, chunk.Select(m => (m.Stored.Event.Id, m.Value)), ct);
        });
    }

    private async Task WriteRowsAsync(List<List<(Candidate Event, List<TableTransactionAction> Actions)>> transactions, CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(transactions, Options(cancellationToken), async (group, ct) =>
        {
            try
            {
                await store.Events.SubmitAsync(group.SelectMany(g => g.Actions).ToList(), ct);
            }
            catch (Exception ex) when (IsRefusal(ex) && group.Count > 1)
            {
                // The service refused the transaction as such (not a passing fault): find the event it
                // cannot take by writing each on its own, so the others are stored.
                foreach (var (c, actions) in group)
                {
                    await WriteOneAsync(c, actions, ct);
                }
            }
            catch (Exception ex) when (IsRefusal(ex))
            {
                await RefuseAsync(group[0].Event, ex, ct);
            }
        });
    }

    private async Task WriteOneAsync(Candidate c, List<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            await store.Events.SubmitAsync(actions, cancellationToken);
        }
        catch (Exception ex) when (IsRefusal(ex))
        {
            await RefuseAsync(c, ex, cancellationToken);
        }
    }

    /// <summary>
    /// Storage will never take this event (a limit the reader did not foresee). Release its claim,
    /// so the id is free again, and dead-letter it with the service's reason: a retry would fail the
    /// same way forever and stall every other event behind it.
    /// </summary>
    private async Task RefuseAsync(Candidate c, Exception ex, CancellationToken cancellationToken)
    {
        if (c.Outcome == ClaimOutcome.Claimed)
        {
            await store.Claims.ReleaseAsync(c.Event.WorkspaceId, c.Event.Id, cancellationToken);
        }
        c.Outcome = ClaimOutcome.Unstorable;
        c.StorageRejection = new IngestRejection(c.Index, RejectionCodes.StorageRejected,
            $"Storage refused this event: {(ex is ArgumentException ? ex.Message : StorageFailures.Describe(ex))}", null, c.Event.Id, c.Event.WorkspaceId);
        logger.LogWarning(ex, "Storage refused event {EventId} of {WorkspaceId}; dead-lettered", c.Event.Id, c.Event.WorkspaceId);
    }

    /// <summary>A definite "no" from the service or the client's own limits, as opposed to a fault worth retrying.</summary>
    private static bool IsRefusal(Exception ex) =>
        ex is ArgumentException || StorageFailures.IsRefusal(ex, 404, 409);

    private static ParallelOptions Options(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken };

    private enum ClaimOutcome
    {
        Pending,
        Claimed,
        Duplicate,
        Conflict,
        Unstorable,
    }

    private sealed class Candidate(int index, AuditEvent e, string hash, RawEvent raw, string claimToken)
    {
        public string ClaimToken { get; } = claimToken;
        public int Index { get; } = index;
        public AuditEvent Event { get; } = e;
        public string Hash { get; } = hash;
        public RawEvent Raw { get; } = raw;
        public ClaimOutcome Outcome { get; set; }
        public DateTimeOffset ReceivedAt { get; set; }
        public string Door { get; set; } = string.Empty;

        /// <summary>Later copies of this event in the same batch (identical content); they share its outcome.</summary>
        public List<(int Index, RawEvent Raw)> Copies { get; } = [];

        public IngestRejection? StorageRejection { get; set; }

        /// <summary>The after-store steps' claim marks the claim has: those steps are done for the event.</summary>
        public IReadOnlySet<string> Marks { get; set; } = ImmutableHashSet<string>.Empty;

        /// <summary>The primary row as written (the last packing's), whose hash the ledger records.</summary>
        public EventRow? PrimaryRow { get; set; }
    }
}
