using System.ComponentModel.DataAnnotations;
using AuditTrail.Core.Storage;

namespace AuditTrail.Core.Forwarding;

/// <summary>Configuration section <c>AuditTrail:Forwarding</c>.</summary>
public sealed class ForwardingOptions : QueueTriggerOptions
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
    public bool AllowHttpEndpoints { get; set; }

    /// <summary>How long one POST to the tracking API may take before it counts as a transient failure.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long ingest trusts a workspace's cached forwarding switch (the forwarder always reads it afresh).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan SettingsCacheDuration { get; set; } = TimeSpan.FromSeconds(30);
}
