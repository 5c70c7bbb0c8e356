using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Export;

/// <summary>Who asked for an export: recorded as the actor of its audit event.</summary>
public sealed record ExportActor(string Type, string Id, string? Name = null);

/// <summary>An export as its owner sees it: its state, the rows written so far, and a fresh link once it succeeded.</summary>
public sealed record ExportInfo(
    string Id, string WorkspaceId, string Status, long RowCount, long ByteSize, string FileName,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? CompletedAt, Uri? DownloadUrl, DateTimeOffset? DownloadUrlExpiresAt,
    string? FailureReason, bool Expired);

/// <summary>
/// CSV exports of a filtered view of the trail, to blob container <c>audit-exports</c>. Asking for
/// one writes its status row (queued) and a message on queue <c>audit-export</c>, and answers at
/// once; <see cref="ExportWorker"/> does the work from the queue, however long it takes. A finished
/// export is shown with a read-only SAS link to its one blob, valid for <see cref="LinkLifetime"/>;
/// the blob is kept <see cref="KeepDays"/> days, then retention removes it.
/// </summary>
public sealed class ExportService(
    TableServiceClient tables, BlobServiceClient blobs, QueueServiceClient queues, ExportLinks links, TrailTables store, ActionRecorder recorder,
    IOptions<ExportOptions> options, TimeProvider time, ILogger<ExportService> logger)
{
    public const string ContainerName = "audit-exports";
    public const string TableName = "AuditExports";
    public const string QueueName = "audit-export";
    public const string PoisonQueueName = QueueName + "-poison";
    public const int KeepDays = 7;
    public static readonly TimeSpan LinkLifetime = TimeSpan.FromHours(1);

    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(ContainerName);
    private readonly TableClient _table = tables.GetTableClient(TableName);
    private readonly QueueClient _queue = queues.GetQueueClient(QueueName);
    private readonly QueueClient _poison = queues.GetQueueClient(PoisonQueueName);
    private readonly CreateOnce _creation = new();

    public BlobContainerClient Container => _container;

    public QueueClient Queue => _queue;

    public QueueClient PoisonQueue => _poison;

    /// <summary>Queues an export of <paramref name="query"/> (its window as given, already resolved) and returns it, queued.</summary>
    public async Task<ExportInfo> CreateAsync(AuditQuery query, ExportActor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var id = Guid.NewGuid().ToString("N");
        var now = time.GetUtcNow();
        var record = new ExportRecord(query.WorkspaceId, id, ExportStatus.Queued, BlobName(now, query.WorkspaceId, id),
            $"audit-{query.WorkspaceId}-{query.Start.UtcDateTime:yyyyMMdd'T'HHmm}-{query.End.UtcDateTime:yyyyMMdd'T'HHmm}.csv",
            now, now.AddDays(KeepDays), now, query, actor);
        // Checked before anything is queued: an export whose record the trail would refuse (an
        // actor name too long to keep, say) is not made.
        recorder.Check(AuditEvent(record));
        await EnsureCreatedAsync(cancellationToken);
        // The row first: a message never names an export that does not exist. A row whose message
        // was never sent (the send failed, and so did the request) is failed as stalled in time.
        await _table.AddEntityAsync(record.ToEntity(), cancellationToken);
        await EnqueueAsync(new ExportMessage(query.WorkspaceId, id), cancellationToken);
        logger.LogInformation("Export {ExportId} of {WorkspaceId} queued by {ActorType} {ActorId}", id, query.WorkspaceId, actor.Type, actor.Id);
        return await InfoAsync(record, now, cancellationToken);
    }

    /// <summary>An export of the workspace, with a fresh link once it succeeded; null if there is none with that id.</summary>
    public async Task<ExportInfo?> GetAsync(string workspaceId, string exportId, CancellationToken cancellationToken = default)
    {
        if (!ExportMessage.IsExportId(exportId))
        {
            return null;
        }
        await EnsureCreatedAsync(cancellationToken);
        var row = await _table.FindAsync(workspaceId, exportId, cancellationToken);
        return row is null ? null : await InfoAsync(ExportRecord.FromEntity(row), time.GetUtcNow(), cancellationToken);
    }

    /// <summary>
    /// How many exports of the workspace are accepted and not finished: queued or running, and
    /// neither stalled nor expired (those a worker may still be running). The rate limits bound it.
    /// </summary>
    public async Task<int> CountUnfinishedAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        await EnsureCreatedAsync(cancellationToken);
        var now = time.GetUtcNow();
        var count = 0;
        await foreach (var row in _table.QueryAsync<TableEntity>(ExportRecord.UnfinishedFilter(workspaceId), select: ExportRecord.ProgressColumns, cancellationToken: cancellationToken))
        {
            var (created, updated, expires) = ExportRecord.Progress(row);
            var createdAt = created ?? now;
            var updatedAt = updated ?? createdAt;
            var expiresAt = expires ?? createdAt.AddDays(KeepDays);
            if (expiresAt > now && updatedAt + options.Value.StalledAfter >= now)
            {
                count++;
            }
        }
        return count;
    }

    private async Task<ExportInfo> InfoAsync(ExportRecord r, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var expired = r.ExpiresAt <= now;
        var stalled = r.IsStalled(now, options.Value.StalledAfter);
        var status = stalled ? ExportStatus.Failed : r.Status;
        var reason = stalled ? ExportRecord.StalledReason(options.Value.StalledAfter) : r.FailureReason;
        Uri? link = null;
        DateTimeOffset? linkExpires = null;
        if (status == ExportStatus.Succeeded && !expired)
        {
            linkExpires = Min(now + LinkLifetime, r.ExpiresAt);
            link = await links.ReadLinkAsync(_container.GetBlobClient(r.BlobName), now, linkExpires.Value, cancellationToken);
        }
        return new ExportInfo(r.Id, r.WorkspaceId, status, r.RowCount, r.ByteSize, r.FileName, r.CreatedAt, r.ExpiresAt,
            status == ExportStatus.Succeeded ? r.CompletedAt : null, link, linkExpires, status == ExportStatus.Failed ? reason : null, expired);
    }

    /// <summary>Blob names start with the UTC day of creation, so retention removes old exports by name.</summary>
    public static string BlobName(DateTimeOffset createdAt, string workspaceId, string exportId) =>
        $"{createdAt.UtcDateTime:yyyy/MM/dd}/{workspaceId}/{exportId}.csv";

    /// <summary>
    /// Stores the export's audit event, <c>Audit Trail Exported</c>. Its id and content come from the
    /// record alone (the timestamp is when its last block was staged), so a run that records it again
    /// after a crash stores nothing new: the trail shows each export once.
    /// </summary>
    internal async Task RecordAsync(ExportRecord record, CancellationToken cancellationToken)
    {
        // Not stored, the export fails this try and is not shown as done: no link without its record.
        await recorder.StoreAsync(recorder.Check(AuditEvent(record)), cancellationToken);
    }

    /// <summary>The export's audit event as <see cref="RecordAsync"/> stores it (before it finished, timestamped at its creation).</summary>
    internal static JsonObject AuditEvent(ExportRecord record) =>
        new()
        {
            // The export's id is random and the namespace the trail's own, so nobody can take it first.
            ["id"] = TrailRecordIds.Of("audit-trail-exported", record.Id),
            ["workspaceId"] = record.WorkspaceId,
            ["type"] = "Audit Trail Exported",
            ["timestamp"] = (record.CompletedAt ?? record.CreatedAt).ToString("O"),
            ["actor"] = new JsonObject { ["type"] = record.Actor.Type, ["id"] = record.Actor.Id, ["name"] = record.Actor.Name },
            ["resource"] = new JsonObject { ["type"] = "export", ["id"] = record.Id },
            ["properties"] = new JsonObject { ["rowCount"] = record.RowCount, ["filters"] = ExportRecord.Filters(record.Query) },
        };

    internal async Task EnqueueAsync(ExportMessage message, CancellationToken cancellationToken) =>
        await QueueMessages.SendAsync(_queue, QueueMessages.EncodeBase64(message.ToJson()), cancellationToken);

    /// <summary>Keeps a message no run can use on the poison queue, base64 as a queue message must be.</summary>
    internal async Task PoisonAsync(string payload, CancellationToken cancellationToken) =>
        await QueueMessages.SendAsync(_poison, QueueMessages.EncodeBase64(payload), cancellationToken);

    internal async Task<(ExportRecord Record, ETag ETag)?> ReadAsync(string workspaceId, string exportId, CancellationToken cancellationToken)
    {
        var row = await _table.FindAsync(workspaceId, exportId, cancellationToken);
        return row is null ? null : (ExportRecord.FromEntity(row), row.ETag);
    }

    /// <summary>
    /// Replaces the row if nobody else changed it since <paramref name="etag"/>; the new ETag, or
    /// null when another run got there first (that run owns the export now).
    /// </summary>
    internal async Task<ETag?> SaveAsync(ExportRecord record, ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            return (await _table.UpdateEntityAsync(record.ToEntity(), etag, TableUpdateMode.Replace, cancellationToken)).Headers.ETag;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return null;
        }
    }

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        _creation.EnsureAsync(async ct =>
        {
            await store.EnsureCreatedAsync(ct);
            await Task.WhenAll(
                _container.CreateIfNotExistsAsync(cancellationToken: ct), _table.CreateIfNotExistsAsync(ct),
                _queue.CreateIfNotExistsAsync(cancellationToken: ct), _poison.CreateIfNotExistsAsync(cancellationToken: ct));
        }, cancellationToken);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
