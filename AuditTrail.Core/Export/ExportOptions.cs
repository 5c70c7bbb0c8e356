using System.ComponentModel.DataAnnotations;
using AuditTrail.Core.Storage;

namespace AuditTrail.Core.Export;

/// <summary>Configuration section <c>AuditTrail:Export</c>; the queue settings (<see cref="QueueTriggerOptions"/>) are those of queue <c>audit-export</c>. A message that fails on its last try fails its export.</summary>
public sealed class ExportOptions : QueueTriggerOptions
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
}
