using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Core.Forwarding;

/// <summary>Configuration section <c>AuditTrail:Forwarding</c>.</summary>
public sealed class ForwardingOptions
{
    public const string Section = "AuditTrail:Forwarding";

    /// <summary>Where events go when a workspace names no endpoint: the public tracking API (US region).</summary>
    [Required]
    public Uri DefaultEndpoint { get; set; } = new("https://api.segment.io");

    /// <summary>
    /// Lets an owner name a plain-HTTP endpoint. Off in production: a write key must not travel in
    /// clear text, and plain HTTP is how an endpoint setting would reach internal services
    /// (cloud metadata, the storage emulator). On for local runs and tests against a local receiver.
    /// </summary>
    /// <remarks>
    /// It also turns off the address check (<see cref="ForwardingAddressGuard"/>) that otherwise
    /// refuses endpoints on loopback, private, link-local and other internal addresses.
    /// </remarks>
    public bool AllowHttpEndpoints { get; set; }

    /// <summary>How long one POST to the tracking API may take before it counts as a transient failure.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long ingest trusts a workspace's cached forwarding switch (the forwarder always reads it afresh).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan SettingsCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tries before a message goes to the poison queue; host.json <c>extensions.queues.maxDequeueCount</c> must agree.</summary>
    [Range(1, 100)]
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>Standalone mode only: poll <c>audit-forward</c> in-process, as the queue trigger would in Azure.</summary>
    public bool PollQueue { get; set; } = true;

    /// <summary>Standalone mode: delay before a failed message is tried again (host.json <c>visibilityTimeout</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Standalone mode: longest wait between polls of an empty queue (host.json <c>maxPollingInterval</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan MaxPollingInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Standalone mode: messages forwarded at once (host.json <c>batchSize</c>), so one slow source
    /// holds one slot, not every workspace's forwarding. More are fetched when half are done, as
    /// the queue trigger's default <c>newBatchThreshold</c> does.
    /// </summary>
    [Range(1, 32)]
    public int BatchSize { get; set; } = 16;
}
