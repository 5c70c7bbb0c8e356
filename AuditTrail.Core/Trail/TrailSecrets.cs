using AuditTrail.Core.Storage;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Trail;

/// <summary>One row of <c>AuditTrailKeys</c>: a secret the app generated for itself, in the column its kind names.</summary>
public sealed class TrailSecretRow : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>The continuation tokens' HMAC key.</summary>
    public byte[]? Key { get; set; }

    /// <summary>The development digest signing key, PKCS#8.</summary>
    public byte[]? Pkcs8 { get; set; }
}

/// <summary>Where one secret is kept in <c>AuditTrailKeys</c>.</summary>
public sealed record TrailSecret(string PartitionKey, string RowKey, bool IsPkcs8)
{
    /// <summary>The HMAC-SHA256 key of continuation tokens.</summary>
    public static TrailSecret ContinuationKey { get; } = new("continuation", "v1", IsPkcs8: false);

    /// <summary>The digest signing key of a development deployment without Key Vault.</summary>
    public static TrailSecret SigningKey { get; } = new("integrity-signing", "v1", IsPkcs8: true);

    internal byte[]? From(TrailSecretRow row) => IsPkcs8 ? row.Pkcs8 : row.Key;

    // Only the kind's own column is written: Table Storage keeps no nulls.
    internal TableEntity Row(byte[] value) =>
        TableRows.Create(PartitionKey, RowKey, (IsPkcs8 ? nameof(TrailSecretRow.Pkcs8) : nameof(TrailSecretRow.Key), value));
}

/// <summary>
/// Table <c>AuditTrailKeys</c>: secrets the app generates once and every instance then shares
/// (a scaled-out app and a restarted one use the same key). The only code that reads or writes it.
/// </summary>
public sealed class TrailSecrets
{
    internal TrailSecrets(TableClient table) => Table = table;

    internal TableClient Table { get; }

    /// <summary>The stored secret, or null when none has been generated.</summary>
    public async Task<byte[]?> FindAsync(TrailSecret secret, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var found = await Table.GetEntityIfExistsAsync<TrailSecretRow>(secret.PartitionKey, secret.RowKey, cancellationToken: cancellationToken);
        return found.HasValue ? secret.From(found.Value!) : null;
    }

    /// <summary>
    /// The stored secret, or <paramref name="generate"/>'s, stored now. Of instances generating one
    /// at the same moment, the first one stored wins and every one returns it. <c>Created</c>: this
    /// call stored it.
    /// </summary>
    public async Task<(byte[] Value, bool Created)> GetOrAddAsync(TrailSecret secret, Func<byte[]> generate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generate);
        if (await FindAsync(secret, cancellationToken) is { } stored)
        {
            return (stored, false);
        }
        var value = generate();
        try
        {
            await Table.AddEntityAsync(secret.Row(value), cancellationToken);
            return (value, true);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // Another instance stored one first: use theirs.
            var theirs = (await Table.GetEntityAsync<TrailSecretRow>(secret.PartitionKey, secret.RowKey, cancellationToken: cancellationToken)).Value;
            return (secret.From(theirs)!, false);
        }
    }
}
