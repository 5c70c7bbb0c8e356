using System.Text.Json.Nodes;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// The audit events the app writes about its own actions: token creation and revocation, exports,
/// forwarding settings changes. An action on the trail that leaves no record of itself is the
/// one thing an audit trail may not allow, so each such event is checked with the same reader as
/// every other event <em>before</em> the action (<see cref="Check"/>: a name too long for the
/// trail refuses the action, instead of storing it and dead-lettering its record), and stored
/// after it (<see cref="StoreAsync"/>), failing loudly if it is not.
/// These events are stored through <see cref="IngestionService.RecordOwnAsync"/>, the one path
/// allowed the reserved types of the <c>Audit Trail</c> area, under ids in the trail's own
/// namespace (<see cref="TrailRecordIds"/>). A conflict on such an id cannot come from a producer,
/// so it is an alarm (<see cref="TrailRecordConflictException"/>), never taken as the record.
/// </summary>
public sealed class ActionRecorder(IngestionService ingestion, TrailTables store, TimeProvider time, ILogger<ActionRecorder> logger, AuditTrailTelemetry? telemetry = null)
{
    /// <summary>How long the check whether a failed store stored the event after all may take.</summary>
    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The event as it will be stored. Throws <see cref="UnrecordableActionException"/> if the trail would refuse it.</summary>
    public ActionRecord Check(JsonObject auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        var raw = RawEvent.FromText(auditEvent.ToJsonString());
        var read = AuditEventReader.Read(raw, 0, null, time.GetUtcNow());
        return read.Rejection is { } rejection
            ? throw new UnrecordableActionException(rejection) { BeforeAction = true }
            : new ActionRecord(raw, read.Event!.WorkspaceId, read.Event.Id, EventRows.ContentHash(read.Event), read.Event.Type);
    }

    /// <summary>Stores a checked event; one already stored with the same content counts as stored (a retried action).</summary>
    public async Task StoreAsync(ActionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!TrailRecordIds.IsReserved(record.EventId))
        {
            // A programming error, not a request's: a record outside the namespace could be claimed first by a producer.
            throw new InvalidOperationException($"The trail's own record {record.EventId} must take an id made by {nameof(TrailRecordIds)}.");
        }
        IngestResult result;
        try
        {
            result = await ingestion.RecordOwnAsync(record.Raw, cancellationToken);
        }
        catch (Exception failure)
        {
            // Ingest can fail after the event is stored (queueing it for forwarding, a deadline
            // passing just then). The action must not be undone for an event that is in the trail.
            if (!await IsStoredAsync(record))
            {
                throw;
            }
            logger.LogWarning(failure, "Audit event {EventId} of {WorkspaceId} was stored, but its ingest failed after that; the action stands", record.EventId, record.WorkspaceId);
            return;
        }
        if (result.Rejected is [{ Code: RejectionCodes.Conflict } conflict])
        {
            telemetry?.TrailRecordConflict(record.Type);
            logger.LogError("ALARM: the trail's own record {EventId} ({EventType}) of {WorkspaceId} found its id taken by a stored event with other content; the stored event is not taken as the record and the action's record is missing",
                record.EventId, record.Type, record.WorkspaceId);
            throw new TrailRecordConflictException(conflict, record.Type);
        }
        if (result.Accepted + result.Duplicates != 1)
        {
            throw new UnrecordableActionException(result.Rejected.Count > 0
                ? result.Rejected[0]
                : new IngestRejection(0, RejectionCodes.StorageRejected, "The audit event was not stored.", null, record.EventId));
        }
    }

    /// <summary>
    /// Whether an event with this id was stored by the trail itself (its claim's door), as opposed to
    /// posted by a producer: for records whose ids earlier versions derived from public values.
    /// </summary>
    public async Task<bool> IsOwnRecordAsync(string workspaceId, string eventId, CancellationToken cancellationToken = default)
    {
        await store.EnsureCreatedAsync(cancellationToken);
        var claim = await store.Claims.FindAsync(workspaceId, eventId, cancellationToken);
        return claim?.Door == IngestDoors.System;
    }

    /// <summary>Whether the event's claim (with its content) and its primary row are there; false if that cannot be told.</summary>
    private async Task<bool> IsStoredAsync(ActionRecord record)
    {
        using var bound = new CancellationTokenSource(VerifyTimeout);
        try
        {
            var claim = await store.Claims.FindAsync(record.WorkspaceId, record.EventId, bound.Token);
            return claim?.ContentHash == record.ContentHash && await store.Events.PrimaryRowExistsAsync(claim, bound.Token) == true;
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or OperationCanceledException or IOException or HttpRequestException or AggregateException)
        {
            logger.LogWarning(ex, "Could not tell whether audit event {EventId} of {WorkspaceId} was stored; taken as not stored", record.EventId, record.WorkspaceId);
            return false;
        }
    }
}

/// <summary>A checked audit event of an action, ready to store.</summary>
public sealed record ActionRecord(RawEvent Raw, string WorkspaceId, string EventId, string ContentHash, string Type);

/// <summary>An action refused (or undone) because its audit event could not be stored; <see cref="Rejection"/> says why.</summary>
public class UnrecordableActionException : Exception
{
    public UnrecordableActionException(IngestRejection rejection)
        : base($"Its audit event could not be recorded: {rejection.Reason}")
    {
        Rejection = rejection;
    }

    /// <summary>With a message of its own, for a refusal that says more than the rejection's reason.</summary>
    public UnrecordableActionException(IngestRejection rejection, string message)
        : base(message)
    {
        Rejection = rejection;
    }

    public UnrecordableActionException() : this(new IngestRejection(0, RejectionCodes.StorageRejected, "unknown"))
    {
    }

    public UnrecordableActionException(string message) : base(message) => Rejection = new IngestRejection(0, RejectionCodes.StorageRejected, message);

    public UnrecordableActionException(string message, Exception innerException) : base(message, innerException) =>
        Rejection = new IngestRejection(0, RejectionCodes.StorageRejected, message);

    public IngestRejection Rejection { get; }

    /// <summary>True when the check before the action refused it, so nothing was done: the request's own content was the cause.</summary>
    public bool BeforeAction { get; init; }
}

/// <summary>
/// The alarm: one of the trail's own records found its id already stored with other content. Ids in
/// the trail's namespace are refused at both doors and carry a random part, so only someone writing
/// to storage directly (or a bug) can have put it there; the stored event is never taken as the record.
/// </summary>
public sealed class TrailRecordConflictException : UnrecordableActionException
{
    public TrailRecordConflictException(IngestRejection rejection, string eventType)
        : base(rejection, $"ALARM: the audit trail's own record {rejection.EventId} ({eventType}) of workspace {rejection.WorkspaceId} was refused: " +
                          "a different event is stored under its id, which no producer can post. It was not taken as the record; investigate who wrote it.")
    {
        EventType = eventType;
    }

    public TrailRecordConflictException()
    {
        EventType = string.Empty;
    }

    public TrailRecordConflictException(string message) : base(message)
    {
        EventType = string.Empty;
    }

    public TrailRecordConflictException(string message, Exception innerException) : base(message, innerException)
    {
        EventType = string.Empty;
    }

    public string EventType { get; }
}
