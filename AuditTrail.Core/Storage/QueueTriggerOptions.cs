using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Core.Storage;

/// <summary>
/// How a queue function's messages are tried: in Azure, host.json's <c>extensions.queues</c>
/// (shared by every queue function) does it; standalone, the app's own poller does it with these,
/// whose defaults are host.json's.
/// </summary>
public abstract class QueueTriggerOptions
{
    /// <summary>Tries before a message goes to the poison queue; host.json <c>extensions.queues.maxDequeueCount</c> must agree.</summary>
    [Range(1, 100)]
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>Standalone mode only: poll the queue in-process, as the queue trigger would in Azure.</summary>
    public bool PollQueue { get; set; } = true;

    /// <summary>Standalone mode: delay before a failed message is tried again (host.json <c>visibilityTimeout</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Standalone mode: longest wait between polls of an empty queue (host.json <c>maxPollingInterval</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan MaxPollingInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Standalone mode: messages handled at once (host.json <c>batchSize</c>), so one slow message
    /// holds one slot, not every other message. More are fetched when half are done, as the
    /// queue trigger's default <c>newBatchThreshold</c> does.
    /// </summary>
    [Range(1, 32)]
    public int BatchSize { get; set; } = 16;
}
