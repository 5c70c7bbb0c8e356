using AuditTrail.Core.Events;
using AuditTrail.Core.Trail;

namespace AuditTrail.Core.Ingestion;

/// <summary>An event of the batch that is in the trail (stored now, or by an earlier delivery), as an after-store step sees it.</summary>
/// <param name="Event">The event as read.</param>
/// <param name="PrimaryRow">Its primary row exactly as written, whose hash the integrity ledger records.</param>
public sealed record StoredEvent(AuditEvent Event, EventRow PrimaryRow);

/// <summary>An event a step with a <see cref="IAfterStoreStep.ClaimMark"/> is done with, and the value ingest marks its claim with.</summary>
public sealed record MarkedEvent(StoredEvent Stored, string Value);

/// <summary>
/// Work ingest does for a batch's stored events after their rows are written and before the batch
/// is acknowledged (the integrity ledger, the forwarding outbox): so a stored event has had every
/// step, or its batch is retried and the replay runs them. Ingest runs the registered steps one
/// after another in registration order, each over the whole batch; a step that throws stops there
/// (the later steps do not run) and the failure propagates to the caller, which must not
/// acknowledge the batch. Events stored by an earlier delivery are passed again, since that
/// delivery may have failed between its rows and its steps: a step either tolerates a repeat
/// (its effect is idempotent downstream) or names a <see cref="ClaimMark"/>.
/// </summary>
public interface IAfterStoreStep
{
    /// <summary>
    /// The column of the event's claim (<c>AuditEventIds</c>) in which ingest remembers that this
    /// step is done for the event, or null for a step that tolerates repeats. A step with a mark is
    /// given only the events whose claim lacks it, and ingest writes the values it returns onto
    /// their claims before the next step runs. A failure between the step and the mark repeats the
    /// step for those events on the replay.
    /// </summary>
    string? ClaimMark { get; }

    /// <summary>Runs the step over the stored events (never none); returns the events to mark (none for a step without a <see cref="ClaimMark"/>).</summary>
    Task<IReadOnlyList<MarkedEvent>> RunAsync(IReadOnlyList<StoredEvent> stored, CancellationToken cancellationToken);
}
