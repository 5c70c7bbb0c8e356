using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AuditTrail.Core.Telemetry;

/// <summary>
/// What the app tells an operator: one <see cref="ActivitySource"/> and one <see cref="Meter"/>,
/// both named <c>AuditTrail</c> (docs/operations.md lists every instrument). Recorded with
/// System.Diagnostics only; the Functions project decides whether anything listens and where it
/// goes. Tags are low-cardinality and never carry event content, ids, keys or tokens: a door, an
/// outcome, a stable rejection code, a status class. The workspace id is left out on purpose:
/// one series per tenant would grow without bound, and per-workspace questions are answered
/// from the request spans (whose route carries it) and the logs.
/// </summary>
public sealed class AuditTrailTelemetry
{
    public const string Name = "AuditTrail";

    /// <summary>Static, as .NET recommends for an ActivitySource (it has no factory); listeners pick it by name.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    public const string DoorTag = "audittrail.door";
    public const string OutcomeTag = "audittrail.outcome";
    public const string CodeTag = "audittrail.code";
    public const string StatusClassTag = "audittrail.status_class";
    public const string KindTag = "audittrail.kind";
    public const string TypeTag = "audittrail.event_type";

    private static readonly double[] LagBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400];
    private static readonly double[] ExportBuckets = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

    private readonly Counter<long> _events;
    private readonly Counter<long> _deadLetters;
    private readonly Counter<long> _forwardCalls;
    private readonly Counter<long> _forwardedEvents;
    private readonly Histogram<double> _forwardLag;
    private readonly Counter<long> _purgeRuns;
    private readonly Counter<long> _purged;
    private readonly Counter<long> _exports;
    private readonly Counter<long> _exportRows;
    private readonly Histogram<double> _exportDuration;
    private readonly Counter<long> _trailRecordConflicts;
    private readonly Counter<long> _digestConflicts;
    private readonly Counter<long> _sealFailures;

    /// <summary>The meter comes from the container's <see cref="IMeterFactory"/>, so each app (and each test's app) has its own.</summary>
    public AuditTrailTelemetry(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(new MeterOptions(Name));
        _events = meter.CreateCounter<long>("audittrail.ingest.events", "{event}",
            "Events received, by door and outcome (accepted, duplicate, rejected) and, for rejections, the code.");
        _deadLetters = meter.CreateCounter<long>("audittrail.deadletters", "{record}",
            "Records written to the audit-deadletter container, by door and code.");
        _forwardCalls = meter.CreateCounter<long>("audittrail.forward.calls", "{call}",
            "Calls to a workspace's source (/v1/batch), by outcome (delivered, rejected, retry) and status class.");
        _forwardedEvents = meter.CreateCounter<long>("audittrail.forward.events", "{event}", "Events the source accepted.");
        _forwardLag = meter.CreateHistogram("audittrail.forward.lag", "s",
            "From an event's receipt by the trail to its acceptance by the source.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LagBuckets });
        _purgeRuns = meter.CreateCounter<long>("audittrail.retention.runs", "{run}", "Retention purges that ran to the end.");
        _purged = meter.CreateCounter<long>("audittrail.retention.removed", "{item}",
            "What retention removed, by kind (event_rows, id_claims, deadletter_blobs, export_blobs).");
        _exports = meter.CreateCounter<long>("audittrail.exports", "{export}", "Exports finished, by outcome (succeeded, failed).");
        _exportRows = meter.CreateCounter<long>("audittrail.export.rows", "{row}", "Rows in succeeded exports.");
        _exportDuration = meter.CreateHistogram("audittrail.export.duration", "s",
            "From an export's request to its file being ready.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ExportBuckets });
        _trailRecordConflicts = meter.CreateCounter<long>("audittrail.trail_record.conflicts", "{record}",
            "The trail's own records (tokens, exports, forwarding, digests) whose id was found taken by other content: an alarm, by event type.");
        _digestConflicts = meter.CreateCounter<long>("audittrail.integrity.digest_conflicts", "{blob}",
            "Blobs at a digest's name that the sealer did not adopt (not signed by a trusted key, or not the next link of the chain): someone with storage access wrote them. Alert on any.");
        _sealFailures = meter.CreateCounter<long>("audittrail.integrity.seal_failures", "{workspace}",
            "Workspaces a seal run could not seal (the run sealed the others; the next run tries again). Alert on any.");
    }

    /// <summary>A blob at a digest's name that the sealer did not adopt.</summary>
    public void DigestConflict() => _digestConflicts.Add(1);

    /// <summary>A workspace a seal run failed to seal.</summary>
    public void SealFailed() => _sealFailures.Add(1);

    /// <summary>
    /// A span for one function invocation run in-process (standalone pollers and timers); under the
    /// Functions host the invocation's request span carries the function's name instead.
    /// </summary>
    public static Activity? StartFunction(string functionName, string trigger)
    {
        var activity = ActivitySource.StartActivity(functionName, ActivityKind.Internal);
        activity?.SetTag("faas.trigger", trigger);
        activity?.SetTag("faas.invoked_name", functionName);
        return activity;
    }

    /// <summary>One ingested batch: its accepted and duplicate events, and the code of each rejected one.</summary>
    public void Ingested(string door, int accepted, int duplicates, IEnumerable<string> rejectedCodes)
    {
        ArgumentNullException.ThrowIfNull(rejectedCodes);
        var doorTag = new KeyValuePair<string, object?>(DoorTag, door);
        if (accepted > 0)
        {
            _events.Add(accepted, doorTag, new(OutcomeTag, "accepted"));
        }
        if (duplicates > 0)
        {
            _events.Add(duplicates, doorTag, new(OutcomeTag, "duplicate"));
        }
        foreach (var byCode in rejectedCodes.GroupBy(c => c, StringComparer.Ordinal))
        {
            _events.Add(byCode.Count(), doorTag, new(OutcomeTag, "rejected"), new(CodeTag, byCode.Key));
        }
    }

    public void DeadLettered(string door, IEnumerable<string> codes)
    {
        ArgumentNullException.ThrowIfNull(codes);
        foreach (var byCode in codes.GroupBy(c => c, StringComparer.Ordinal))
        {
            _deadLetters.Add(byCode.Count(), new(DoorTag, door), new(CodeTag, byCode.Key));
        }
    }

    /// <summary>One call to a source: <paramref name="status"/> 0 when there was no answer (or the address was refused).</summary>
    public void ForwardCall(string outcome, int status) =>
        _forwardCalls.Add(1, new(OutcomeTag, outcome), new(StatusClassTag, StatusClass(status)));

    /// <summary>Events the source took, and each one's lag from its receipt (when the row says when that was).</summary>
    public void Forwarded(IReadOnlyCollection<DateTimeOffset?> receivedAt, DateTimeOffset deliveredAt)
    {
        ArgumentNullException.ThrowIfNull(receivedAt);
        _forwardedEvents.Add(receivedAt.Count);
        foreach (var at in receivedAt)
        {
            if (at is { } received)
            {
                _forwardLag.Record(Math.Max(0, (deliveredAt - received).TotalSeconds));
            }
        }
    }

    /// <summary>A purge that ran to the end and removed these (a dry run removes nothing and is not counted).</summary>
    public void Purged(long eventRows, long idClaims, int deadLetterBlobs, int exportBlobs)
    {
        _purgeRuns.Add(1);
        // Zeros too: a series that reports 0 says the purge ran and found nothing, which an alert on "no data" can tell from not running.
        _purged.Add(eventRows, new KeyValuePair<string, object?>(KindTag, "event_rows"));
        _purged.Add(idClaims, new KeyValuePair<string, object?>(KindTag, "id_claims"));
        _purged.Add(deadLetterBlobs, new KeyValuePair<string, object?>(KindTag, "deadletter_blobs"));
        _purged.Add(exportBlobs, new KeyValuePair<string, object?>(KindTag, "export_blobs"));
    }

    public void ExportSucceeded(long rows, TimeSpan sinceRequested)
    {
        _exports.Add(1, new KeyValuePair<string, object?>(OutcomeTag, "succeeded"));
        _exportRows.Add(rows);
        _exportDuration.Record(Math.Max(0, sinceRequested.TotalSeconds));
    }

    /// <summary>One of the trail's own records met a stored event with its id and other content: someone planted it.</summary>
    public void TrailRecordConflict(string eventType) =>
        _trailRecordConflicts.Add(1, new KeyValuePair<string, object?>(TypeTag, eventType));

    public void ExportFailed() => _exports.Add(1, new KeyValuePair<string, object?>(OutcomeTag, "failed"));

    internal static string StatusClass(int status) => status switch
    {
        >= 200 and < 300 => "2xx",
        >= 300 and < 400 => "3xx",
        >= 400 and < 500 => "4xx",
        >= 500 and < 600 => "5xx",
        _ => "none",
    };
}
