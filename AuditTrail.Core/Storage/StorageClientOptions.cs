using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Core.Storage;

/// <summary>Connection and resilience settings for the storage REST clients.</summary>
public sealed class StorageClientOptions
{
    /// <summary>The configuration key the app reads the connection string from (also the bindings' connection name).</summary>
    public const string ConnectionSetting = "AuditStorage";

    [Required]
    public string ConnectionString { get; set; } = "UseDevelopmentStorage=true";

    public StorageRetryOptions Retry { get; set; } = new();
}

public sealed class StorageRetryOptions
{
    /// <summary>Attempts after the first one.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 4;

    /// <summary>First back-off delay; doubled on each retry, with jitter, up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(400);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Timeout of a single try; a try that runs over counts as a transient failure.</summary>
    public TimeSpan TryTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
