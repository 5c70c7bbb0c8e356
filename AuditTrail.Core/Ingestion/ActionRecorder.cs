using System.Text.Json.Nodes;
using AuditTrail.Core.Storage;
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
/// </summary>
public sealed class ActionRecorder(IngestionService ingestion, TrailStore store, TimeProvider time, ILogger<ActionRecorder> logger)
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
            : new ActionRecord(raw, read.Event!.WorkspaceId, read.Event.Id, EventRows.ContentHash(read.Event));
    }

    /// <summary>Stores a checked event; one already stored with the same content counts as stored (a retried action).</summary>
    public async Task StoreAsync(ActionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        IngestResult result;
        try
        {
            result = await ingestion.IngestAsync([record.Raw], new IngestContext(IngestDoors.System), cancellationToken);
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
        if (result.Accepted + result.Duplicates != 1)
        {
            throw new UnrecordableActionException(result.Rejected.Count > 0
                ? result.Rejected[0]
                : new IngestRejection(0, RejectionCodes.StorageRejected, "The audit event was not stored.", null, record.EventId));
        }
    }

    /// <summary>Whether the event's claim (with its content) and its primary row are there; false if that cannot be told.</summary>
    private async Task<bool> IsStoredAsync(ActionRecord record)
    {
        using var bound = new CancellationTokenSource(VerifyTimeout);
        try
        {
            var claim = await store.EventIds.FindAsync(record.WorkspaceId, TrailKeys.Encode(record.EventId), bound.Token);
            return claim?.GetString("ContentHash") == record.ContentHash && await store.EventRowExistsAsync(claim, bound.Token) == true;
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or OperationCanceledException or IOException or HttpRequestException or AggregateException)
        {
            logger.LogWarning(ex, "Could not tell whether audit event {EventId} of {WorkspaceId} was stored; taken as not stored", record.EventId, record.WorkspaceId);
            return false;
        }
    }
}

/// <summary>A checked audit event of an action, ready to store.</summary>
public sealed record ActionRecord(RawEvent Raw, string WorkspaceId, string EventId, string ContentHash);

/// <summary>An action refused (or undone) because its audit event could not be stored; <see cref="Rejection"/> says why.</summary>
public sealed class UnrecordableActionException : Exception
{
    public UnrecordableActionException(IngestRejection rejection)
        : base($"Its audit event could not be recorded: {rejection.Reason}")
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
