using System.Globalization;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace AuditTrail.Core.Integrity;

/// <summary>
/// The integrity tables and container (docs/integrity.md, "Storage"):
/// <list type="bullet">
/// <item><c>AuditLedger</c>: one entry per stored event, PartitionKey <c>{workspace}_{yyyyMMddHH}</c> of the
/// time it was recorded (ingestion order, not the event's own time), RowKey the encoded event id; and the
/// registry of which workspaces recorded in which hour, PartitionKey <c>~{yyyyMMddHH}</c>, RowKey the workspace.</item>
/// <item><c>AuditDigests</c>: per workspace (PartitionKey) the digests (<c>d{sequence:D10}</c>), the chain head
/// (<c>head</c>) and the purge records (<c>p{yyyyMMdd}</c>); the sealer's state in partition <c>~state</c>,
/// and the workspaces with purges not yet sealed in partition <c>~purges</c>.</item>
/// <item><c>audit-digests</c>: each digest's JWS as blob <c>{workspace}/{sequence:D10}.jws</c>; immutable in Azure.</item>
/// </list>
/// Workspace ids are <c>[A-Za-z0-9_-]</c>, so the <c>~</c> partitions never meet one.
/// Each table's rows are read and written only through its owner, <see cref="Ledger"/> and <see cref="Digests"/>.
/// </summary>
public sealed class IntegrityStore
{
    public const string LedgerTable = "AuditLedger";
    public const string DigestsTable = "AuditDigests";
    public const string DigestContainer = "audit-digests";

    internal const string RegistryPrefix = "~";
    internal const string StatePartition = "~state";
    internal const string PendingPurgesPartition = "~purges";
    internal const string HeadRow = "head";

    private readonly CreateOnce _creation = new();

    public IntegrityStore(TableServiceClient tables, BlobServiceClient blobs)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(blobs);
        Ledger = new LedgerEntries(tables.GetTableClient(LedgerTable));
        Digests = new DigestRecords(tables.GetTableClient(DigestsTable));
        DigestBlobs = blobs.GetBlobContainerClient(DigestContainer);
    }

    /// <summary>The owner of <c>AuditLedger</c>'s rows.</summary>
    public LedgerEntries Ledger { get; }

    /// <summary>The owner of <c>AuditDigests</c>' rows.</summary>
    public DigestRecords Digests { get; }

    public BlobContainerClient DigestBlobs { get; }

    public static string Hour(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);

    public static string LedgerPartition(string workspaceId, DateTimeOffset recordedAt) => workspaceId + "_" + Hour(recordedAt);

    public static string DigestRow(long sequence) => "d" + sequence.ToString("D10", CultureInfo.InvariantCulture);

    public static string DigestBlobName(string workspaceId, long sequence) => $"{workspaceId}/{sequence.ToString("D10", CultureInfo.InvariantCulture)}.jws";

    /// <summary>
    /// Slot 0 is <see cref="DigestBlobName(string, long)"/>; slot k &gt; 0 is <c>{workspace}/{sequence:D10}.{k}.jws</c>.
    /// Blobs are immutable, so when a blob that is not a trusted digest already sits at a sequence's
    /// name (planted by someone with storage access), the sealer writes the genuine digest at the next
    /// free slot instead of stopping for good; verification takes, per sequence, the lowest slot that
    /// verifies and reports every other as <c>digest_conflict</c> (docs/integrity.md).
    /// </summary>
    public static string DigestBlobName(string workspaceId, long sequence, int slot) =>
        slot == 0 ? DigestBlobName(workspaceId, sequence) : $"{workspaceId}/{sequence.ToString("D10", CultureInfo.InvariantCulture)}.{slot.ToString(CultureInfo.InvariantCulture)}.jws";

    /// <summary>Every blob name of a sequence starts with this (and no other sequence's does).</summary>
    public static string DigestBlobPrefix(string workspaceId, long sequence) => $"{workspaceId}/{sequence.ToString("D10", CultureInfo.InvariantCulture)}.";

    /// <summary>The sequence and slot a digest blob's name gives, or false when it is not a digest blob's name.</summary>
    public static bool TryParseDigestBlobName(string name, out long sequence, out int slot)
    {
        ArgumentNullException.ThrowIfNull(name);
        (sequence, slot) = (0, 0);
        var file = name[(name.LastIndexOf('/') + 1)..];
        if (!file.EndsWith(".jws", StringComparison.Ordinal))
        {
            return false;
        }
        var parts = file[..^4].Split('.');
        return parts.Length is 1 or 2
            && parts[0].Length == 10 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out sequence)
            && (parts.Length == 1 || (int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out slot) && slot > 0 && parts[1] == slot.ToString(CultureInfo.InvariantCulture)));
    }

    public static string PurgeRow(DateOnly day) => "p" + DayKeys.Of(day);

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        _creation.EnsureAsync(ct => Task.WhenAll(
            Ledger.CreateIfNotExistsAsync(ct),
            Digests.CreateIfNotExistsAsync(ct),
            DigestBlobs.CreateIfNotExistsAsync(cancellationToken: ct)), cancellationToken);
}
