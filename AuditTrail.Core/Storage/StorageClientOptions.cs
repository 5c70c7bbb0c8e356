using System.ComponentModel.DataAnnotations;

namespace AuditTrail.Core.Storage;

/// <summary>Connection and resilience settings for the storage REST clients.</summary>
public sealed class StorageClientOptions
{
    /// <summary>The configuration key the app reads the connection string from (also the bindings' connection name).</summary>
    public const string ConnectionSetting = "AuditStorage";

    /// <summary>A Shared Key connection string (Azurite, or an account key). Empty when the identity settings below are used.</summary>
    public string? ConnectionString { get; set; } = "UseDevelopmentStorage=true";

    /// <summary>Identity-based connection (Azure): <c>AuditStorage__accountName</c>, as the Functions bindings read it.</summary>
    public string? AccountName { get; set; }

    public Uri? BlobServiceUri { get; set; }

    public Uri? QueueServiceUri { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary><c>managedidentity</c> with <see cref="ClientId"/> picks a user-assigned identity; otherwise the system-assigned one (or, off Azure, the developer's sign-in).</summary>
    public string? Credential { get; set; }

    public string? ClientId { get; set; }

    /// <summary>True when the trail is reached with Microsoft Entra tokens rather than a key.</summary>
    public bool UsesIdentity => string.IsNullOrEmpty(ConnectionString);

    public StorageAccount ToAccount() => UsesIdentity
        ? StorageAccount.ForIdentity(AccountName, BlobServiceUri, QueueServiceUri, TableServiceUri)
        : StorageAccount.Parse(ConnectionString!);

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
