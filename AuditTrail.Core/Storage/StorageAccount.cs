namespace AuditTrail.Core.Storage;

/// <summary>
/// A storage account as a connection string describes it. The account key never appears in
/// <see cref="ToString"/> or in any exception message.
/// </summary>
public sealed class StorageAccount
{
    /// <summary>Azurite's well-known development account key (public, documented by Microsoft).</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";
    private const string DevelopmentAccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private StorageAccount(string name, byte[]? key, Uri blob, Uri queue, Uri table)
    {
        Name = name;
        Key = key;
        BlobEndpoint = blob;
        QueueEndpoint = queue;
        TableEndpoint = table;
    }

    public string Name { get; }
    /// <summary>The account key; null for an identity-based account (Microsoft Entra tokens, no key).</summary>
    internal byte[]? Key { get; }

    public bool HasKey => Key is not null;
    public Uri BlobEndpoint { get; }
    public Uri QueueEndpoint { get; }
    public Uri TableEndpoint { get; }

    public override string ToString() => $"{Name} (table {TableEndpoint}, blob {BlobEndpoint}, queue {QueueEndpoint})";

    /// <summary>
    /// An account reached with Microsoft Entra tokens (managed identity), as the Functions
    /// identity-based connection settings describe it: an account name, or explicit service URIs.
    /// </summary>
    /// <exception cref="FormatException">Neither a valid account name nor three https service URIs.</exception>
    public static StorageAccount ForIdentity(string? accountName, Uri? blob, Uri? queue, Uri? table)
    {
        if (blob is null || queue is null || table is null)
        {
            if (string.IsNullOrWhiteSpace(accountName) || accountName.Length is < 3 or > 24 || !accountName.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
            {
                throw new FormatException("An identity-based storage connection needs 'accountName' (3-24 lowercase letters and digits) or all of 'blobServiceUri', 'queueServiceUri' and 'tableServiceUri'.");
            }
            blob ??= new Uri($"https://{accountName}.blob.core.windows.net");
            queue ??= new Uri($"https://{accountName}.queue.core.windows.net");
            table ??= new Uri($"https://{accountName}.table.core.windows.net");
        }
        foreach (var uri in new[] { blob, queue, table })
        {
            if (!uri.IsAbsoluteUri || uri.Scheme != Uri.UriSchemeHttps)
            {
                throw new FormatException($"Storage service URI '{uri}' must be an absolute https URL: bearer tokens are never sent in clear text.");
            }
        }
        var name = accountName is { Length: > 0 } ? accountName : blob.Host.Split('.')[0];
        return new StorageAccount(name, null, new Uri(blob.ToString().TrimEnd('/')), new Uri(queue.ToString().TrimEnd('/')), new Uri(table.ToString().TrimEnd('/')));
    }

    /// <summary>
    /// Parses <c>UseDevelopmentStorage=true</c>, account-key connection strings and explicit endpoints.
    /// No SDK is available to expand the development shorthand, so it is done here.
    /// </summary>
    /// <exception cref="FormatException">The string is not a usable Shared Key connection string.</exception>
    public static StorageAccount Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = segment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"Storage connection string segment '{Redact(segment)}' is not of the form Name=Value.");
            }
            parts[segment[..eq].Trim()] = segment[(eq + 1)..].Trim();
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && bool.TryParse(dev, out var useDev) && useDev)
        {
            var proxy = parts.TryGetValue("DevelopmentStorageProxyUri", out var p) ? new Uri(p) : new Uri("http://127.0.0.1");
            var host = $"{proxy.Scheme}://{proxy.Host}";
            return new StorageAccount(
                DevelopmentAccountName,
                Convert.FromBase64String(DevelopmentAccountKey),
                new Uri($"{host}:10000/{DevelopmentAccountName}"),
                new Uri($"{host}:10001/{DevelopmentAccountName}"),
                new Uri($"{host}:10002/{DevelopmentAccountName}"));
        }

        if (!parts.TryGetValue("AccountName", out var name) || string.IsNullOrWhiteSpace(name))
        {
            throw new FormatException("Storage connection string has no AccountName.");
        }
        if (!parts.TryGetValue("AccountKey", out var keyText) || string.IsNullOrWhiteSpace(keyText))
        {
            throw new FormatException("Storage connection string has no AccountKey (only Shared Key connection strings are supported).");
        }
        byte[] key;
        try
        {
            key = Convert.FromBase64String(keyText);
        }
        catch (FormatException)
        {
            throw new FormatException("Storage connection string AccountKey is not valid base64.");
        }

        var protocol = parts.TryGetValue("DefaultEndpointsProtocol", out var proto) ? proto : "https";
        var suffix = parts.TryGetValue("EndpointSuffix", out var sfx) ? sfx : "core.windows.net";
        Uri Endpoint(string setting, string service) =>
            parts.TryGetValue(setting, out var explicitUri)
                ? new Uri(explicitUri.TrimEnd('/'))
                : new Uri($"{protocol}://{name}.{service}.{suffix}");

        return new StorageAccount(name, key, Endpoint("BlobEndpoint", "blob"), Endpoint("QueueEndpoint", "queue"), Endpoint("TableEndpoint", "table"));
    }

    private static string Redact(string segment) =>
        segment.StartsWith("AccountKey", StringComparison.OrdinalIgnoreCase) ? "AccountKey=***" : segment;
}
