using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Export;

/// <summary>Who asked for an export: recorded as the actor of its audit event.</summary>
public sealed record ExportActor(string Type, string Id, string? Name = null);

public sealed record ExportInfo(
    string Id, string WorkspaceId, string Status, long RowCount, long ByteSize, string FileName,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, Uri? DownloadUrl, DateTimeOffset? DownloadUrlExpiresAt);

/// <summary>
/// Writes a filtered view of the trail as CSV to blob container <c>audit-exports</c>. Events are
/// read page by page and streamed through <see cref="CsvBlobWriter"/> in blocks of
/// <see cref="BlockBytes"/>, so memory stays flat however many rows there are. The
/// answer carries a read-only SAS link to that one blob, valid for <see cref="LinkLifetime"/>;
/// the blob itself is kept <see cref="KeepDays"/> days, then retention removes it.
/// </summary>
public sealed class ExportService(
    TableServiceClient tables, BlobServiceClient blobs, ExportLinks links, TrailStore store, TrailQueryService queries, IngestionService ingestion, TimeProvider time, ILogger<ExportService> logger)
{
    public const string ContainerName = "audit-exports";
    public const string TableName = "AuditExports";
    public const int KeepDays = 7;
    public static readonly TimeSpan LinkLifetime = TimeSpan.FromHours(1);
    private const int PageSize = 500;

    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(ContainerName);
    private readonly TableClient _table = tables.GetTableClient(TableName);
    private volatile bool _created;

    /// <summary>Size of each uploaded block; also the bound on the CSV held in memory.</summary>
    public int BlockBytes { get; init; } = 4 * 1024 * 1024;

    public BlobContainerClient Container => _container;

    public async Task<ExportInfo> CreateAsync(AuditQuery query, ExportActor actor, CancellationToken cancellationToken = default)
    {
        await EnsureCreatedAsync(cancellationToken);
        var id = Guid.NewGuid().ToString("N");
        var now = time.GetUtcNow();
        var blobName = BlobName(now, query.WorkspaceId, id);
        var fileName = $"audit-{query.WorkspaceId}-{query.Start.UtcDateTime:yyyyMMdd'T'HHmm}-{query.End.UtcDateTime:yyyyMMdd'T'HHmm}.csv";

        var disposition = $"attachment; filename=\"{fileName}\"";
        var writer = new CsvBlobWriter(_container, logger) { BlockBytes = BlockBytes };
        var headers = new BlobHttpHeaders { ContentType = "text/csv; charset=utf-8", ContentDisposition = disposition };
        var (rows, bytes, blocks) = await writer.WriteAsync(blobName, ReadAllAsync(query, cancellationToken), headers, cancellationToken);
        var expiresAt = now.AddDays(KeepDays);
        await _table.AddEntityAsync(new TableEntity(query.WorkspaceId, id)
        {
            ["Status"] = "completed",
            ["BlobName"] = blobName,
            ["FileName"] = fileName,
            ["RowCount"] = rows,
            ["ByteSize"] = bytes,
            ["CreatedAt"] = now,
            ["ExpiresAt"] = expiresAt,
            ["Filters"] = Filters(query).ToJsonString(),
            ["ActorType"] = actor.Type,
            ["ActorId"] = actor.Id,
        }, cancellationToken);
        await RecordAsync(query, actor, id, rows, cancellationToken);
        logger.LogInformation("Export {ExportId} of {WorkspaceId} done: {Rows} rows, {Bytes} bytes in {Blocks} blocks", id, query.WorkspaceId, rows, bytes, blocks);
        var linkExpires = Min(now + LinkLifetime, expiresAt);
        return new ExportInfo(id, query.WorkspaceId, "completed", rows, bytes, fileName, now, expiresAt,
            await links.ReadLinkAsync(_container.GetBlobClient(blobName), now, linkExpires, cancellationToken), linkExpires);
    }

    /// <summary>An export of the workspace with a fresh link; null if there is none with that id.</summary>
    public async Task<ExportInfo?> GetAsync(string workspaceId, string exportId, CancellationToken cancellationToken = default)
    {
        await EnsureCreatedAsync(cancellationToken);
        if (exportId.Length != 32 || !exportId.All(char.IsAsciiHexDigitLower))
        {
            return null;
        }
        var row = await _table.FindAsync(workspaceId, exportId, cancellationToken);
        if (row is null)
        {
            return null;
        }
        var now = time.GetUtcNow();
        var expiresAt = row.GetDateTimeOffset("ExpiresAt") ?? now;
        var expired = expiresAt <= now;
        var linkExpires = Min(now + LinkLifetime, expiresAt);
        return new ExportInfo(exportId, workspaceId, expired ? "expired" : row.GetString("Status") ?? "completed",
            row.GetInt64("RowCount") ?? 0, row.GetInt64("ByteSize") ?? 0, row.GetString("FileName") ?? string.Empty,
            row.GetDateTimeOffset("CreatedAt") ?? now, expiresAt,
            expired ? null : await links.ReadLinkAsync(_container.GetBlobClient(row.GetString("BlobName")), now, linkExpires, cancellationToken), expired ? null : linkExpires);
    }

    /// <summary>Every event the query matches, in the query API's order, one page in memory at a time.</summary>
    private async IAsyncEnumerable<AuditEvent> ReadAllAsync(AuditQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        QueryPosition? from = null;
        var pageQuery = query with { Limit = PageSize };
        do
        {
            var page = await queries.QueryAsync(pageQuery, from, cancellationToken);
            foreach (var e in page.Events)
            {
                yield return e;
            }
            from = page.Next;
        }
        while (from is not null);
    }

    /// <summary>Blob names start with the UTC day of creation, so retention removes old exports by name.</summary>
    public static string BlobName(DateTimeOffset createdAt, string workspaceId, string exportId) =>
        $"{createdAt.UtcDateTime:yyyy/MM/dd}/{workspaceId}/{exportId}.csv";

    private async Task RecordAsync(AuditQuery query, ExportActor actor, string exportId, long rows, CancellationToken cancellationToken)
    {
        var e = new JsonObject
        {
            ["id"] = "audit-trail-exported-" + exportId,
            ["workspaceId"] = query.WorkspaceId,
            ["type"] = "Audit Trail Exported",
            ["timestamp"] = time.GetUtcNow().ToString("O"),
            ["actor"] = new JsonObject { ["type"] = actor.Type, ["id"] = actor.Id, ["name"] = actor.Name },
            ["resource"] = new JsonObject { ["type"] = "export", ["id"] = exportId },
            ["properties"] = new JsonObject { ["rowCount"] = rows, ["filters"] = Filters(query) },
        };
        await ingestion.IngestAsync([RawEvent.FromText(e.ToJsonString())], new IngestContext(IngestDoors.System), cancellationToken);
    }

    private static JsonObject Filters(AuditQuery q) => new()
    {
        ["start"] = q.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        ["end"] = q.End.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        ["type"] = new JsonArray(q.Types.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        ["productArea"] = q.ProductArea,
        ["actorId"] = q.ActorId,
        ["actorType"] = q.ActorType,
        ["resourceType"] = q.ResourceType,
        ["resourceId"] = q.ResourceId,
    };

    private async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (!_created)
        {
            await store.EnsureCreatedAsync(cancellationToken);
            await Task.WhenAll(_container.CreateIfNotExistsAsync(cancellationToken: cancellationToken), _table.CreateIfNotExistsAsync(cancellationToken));
            _created = true;
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
