using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Core.Export;

/// <summary>Configuration section <c>AuditTrail:Export</c>.</summary>
public sealed class ExportOptions
{
    public const string Section = "AuditTrail:Export";

    /// <summary>
    /// How long one run of an export works before it checkpoints and hands the rest to a fresh queue
    /// message: well inside host.json's <c>functionTimeout</c> (10 minutes), so no export is ever cut
    /// off by the host, however long it is. Zero: one block per run.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:08:00")]
    public TimeSpan MaxRunTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A queued or running export whose status row has not moved for this long is failed (its work
    /// was lost, for example with a message that was poisoned while storage was down), so no export
    /// is shown as running forever. Every run moves it at least once a block.
    /// </summary>
    [Range(typeof(TimeSpan), "00:10:00", "1.00:00:00")]
    public TimeSpan StalledAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Size a block reaches before it is staged and the export checkpointed; also the bound on the CSV held in memory.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int BlockBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Tries before a message goes to the poison queue and its export is failed; host.json <c>extensions.queues.maxDequeueCount</c> must agree.</summary>
    [Range(1, 100)]
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>Standalone mode only: poll <c>audit-export</c> in-process, as the queue trigger would in Azure.</summary>
    public bool PollQueue { get; set; } = true;

    /// <summary>Standalone mode: delay before a failed message is tried again (host.json <c>visibilityTimeout</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Standalone mode: longest wait between polls of an empty queue (host.json <c>maxPollingInterval</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan MaxPollingInterval { get; set; } = TimeSpan.FromSeconds(2);
}
