using Microsoft.Extensions.Configuration;

namespace AuditTrail.Core.Storage;

/// <summary>
/// The <c>AuditStorage</c> settings, read the way the Functions bindings read a connection: the
/// value itself is a connection string (Azurite, or an account key), or its children describe an
/// identity-based connection (<c>AuditStorage__accountName</c>, or the three
/// <c>__…ServiceUri</c>), reached with one <see cref="Azure.Core.TokenCredential"/>.
/// </summary>
public sealed class AuditStorageOptions
{
    /// <summary>The configuration key, which is also the connection name the queue trigger's <c>function.json</c> uses.</summary>
    public const string Section = "AuditStorage";

    /// <summary>A connection string; empty when the identity settings below are used.</summary>
    public string? ConnectionString { get; set; } = "UseDevelopmentStorage=true";

    public string? AccountName { get; set; }

    public Uri? BlobServiceUri { get; set; }

    public Uri? QueueServiceUri { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary><c>managedidentity</c> with <see cref="ClientId"/> picks a user-assigned identity; otherwise the system-assigned one (off Azure, <c>DefaultAzureCredential</c>).</summary>
    public string? Credential { get; set; }

    public string? ClientId { get; set; }

    public StorageRetryOptions Retry { get; set; } = new();

    /// <summary>True when storage is reached with Microsoft Entra tokens rather than a connection string.</summary>
    public bool UsesIdentity => string.IsNullOrEmpty(ConnectionString);

    /// <summary>Reads the section as the bindings do: its own value is the connection string, unless identity settings are given.</summary>
    public static void Bind(IConfigurationSection section, AuditStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        section.Bind(options);
        var identity = section["accountName"] is not null || section["blobServiceUri"] is not null
                       || section["queueServiceUri"] is not null || section["tableServiceUri"] is not null;
        options.ConnectionString = section.Value ?? section["ConnectionString"] ?? (identity ? null : options.ConnectionString);
    }

    /// <summary>The blob, queue and table endpoints of an identity-based connection.</summary>
    /// <exception cref="FormatException">Neither a valid account name nor three https service URIs.</exception>
    public (Uri Blob, Uri Queue, Uri Table) IdentityEndpoints()
    {
        var (blob, queue, table) = (BlobServiceUri, QueueServiceUri, TableServiceUri);
        if (blob is null || queue is null || table is null)
        {
            if (string.IsNullOrWhiteSpace(AccountName) || AccountName.Length is < 3 or > 24 || !AccountName.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
            {
                throw new FormatException("An identity-based storage connection needs 'accountName' (3-24 lowercase letters and digits) or all of 'blobServiceUri', 'queueServiceUri' and 'tableServiceUri'.");
            }
            blob ??= new Uri($"https://{AccountName}.blob.core.windows.net");
            queue ??= new Uri($"https://{AccountName}.queue.core.windows.net");
            table ??= new Uri($"https://{AccountName}.table.core.windows.net");
        }
        foreach (var uri in new[] { blob, queue, table })
        {
            if (!uri.IsAbsoluteUri || uri.Scheme != Uri.UriSchemeHttps)
            {
                throw new FormatException($"Storage service URI '{uri}' must be an absolute https URL: bearer tokens are never sent in clear text.");
            }
        }
        return (blob, queue, table);
    }

    /// <summary>Why these settings cannot reach storage, or null when they can. Never repeats a key.</summary>
    public string? Problem()
    {
        try
        {
            if (UsesIdentity)
            {
                IdentityEndpoints();
            }
            else
            {
                // The clients' own parsers decide, so nothing is accepted here that they would refuse later.
                _ = new Azure.Data.Tables.TableServiceClient(ConnectionString);
                _ = new Azure.Storage.Queues.QueueServiceClient(ConnectionString);
                if (!new Azure.Storage.Blobs.BlobServiceClient(ConnectionString).CanGenerateAccountSasUri)
                {
                    // A SAS connection string: download links, signed with the account key, could not be made.
                    return "a connection string needs the account key (download links are signed with it); without one, use the identity settings";
                }
            }
            return null;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            return UsesIdentity ? ex.Message : "it is not a connection string the storage clients accept";
        }
    }
}

/// <summary>Retries of a transient storage failure, applied to every storage client (the SDK's <see cref="Azure.Core.RetryOptions"/>).</summary>
public sealed class StorageRetryOptions
{
    /// <summary>Attempts after the first one.</summary>
    public int MaxRetries { get; set; } = 4;

    /// <summary>First back-off delay; doubled on each retry, with jitter, up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(400);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Timeout of a single try (the SDK's network timeout); a try that runs over counts as a transient failure.</summary>
    public TimeSpan TryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most one HTTP request of the API may spend on storage, all tries together. Tries and
    /// back-off alone could keep a caller waiting for minutes against a storage that accepts
    /// connections and never answers; past this the request answers 503 with Retry-After, well
    /// before the gateways' and the Functions host's own limits (230 s) cut it off without one.
    /// </summary>
    public TimeSpan RequestDeadline { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The longest deadline accepted: under the Functions host's 230 s HTTP limit, with room to answer.</summary>
    public static readonly TimeSpan MaxRequestDeadline = TimeSpan.FromSeconds(200);
}
