using System.Diagnostics;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Export;

/// <summary>
/// Runs exports from queue <c>audit-export</c>, one message at a time, as the queue trigger
/// <c>ExportAuditEvents</c> (or, standalone, the in-process poller) hands them over.
/// <para>
/// A run pages through the trail (<see cref="PageSize"/> events a page, the query API's order) into
/// a <see cref="CsvBlockWriter"/>, and each time its buffer holds a block, at a page boundary, it
/// stages the block and checkpoints the export's row: rows and bytes so far, the query position after
/// the block's last row, and the blocks staged. A run that crashes, or a message delivered again,
/// starts from the last checkpoint, so every row is in exactly one block of the list; a block
/// staged after the checkpoint is simply never committed. Each run names its blocks with an id of
/// its own and saves the row only if nobody else has since it read it (ETag), so two runs of one
/// export (a duplicate delivery) can never mix their blocks: the second to save stops.
/// </para>
/// <para>
/// After <see cref="ExportOptions.MaxRunTime"/> a run checkpoints and queues a fresh message for
/// the rest, so no export outlives the host's function timeout or uses up its tries by being long.
/// Once every row is staged the block list is committed (only then is anything visible), the audit
/// event is stored (deterministic, so once), and the export marked succeeded; each of those steps
/// can be repeated after a crash. A message that fails on its last try fails its export with the
/// reason before it goes to the poison queue.
/// </para>
/// </summary>
public sealed class ExportWorker(ExportService exports, TrailQueryService queries, IOptions<ExportOptions> options, TimeProvider time, ILogger<ExportWorker> logger,
    AuditTrailTelemetry? telemetry = null)
{
    public const int PageSize = 500;

    /// <summary>Runs (or goes on with) the export a message names; returns one line for the log. Throws when the message should be tried again.</summary>
    public async Task<string> RunAsync(string messageText, long dequeueCount, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageText);
        await exports.EnsureCreatedAsync(cancellationToken);
        if (ExportMessage.TryParse(messageText) is not { } message)
        {
            // No try could ever run it: kept for someone to look at, as a poisoned message would be.
            await exports.PoisonAsync(messageText, cancellationToken);
            logger.LogError("Export message is not an export message; moved to {PoisonQueue}", ExportService.PoisonQueueName);
            return $"Not an export message; moved to {ExportService.PoisonQueueName}.";
        }
        try
        {
            return await RunCoreAsync(message, cancellationToken);
        }
        catch (Exception ex) when (dequeueCount >= options.Value.MaxDequeueCount && !cancellationToken.IsCancellationRequested)
        {
            await FailAsync(message, $"The export failed {dequeueCount} times; the last failure: {StorageFailures.Describe(ex)}", CancellationToken.None);
            throw;
        }
    }

    private async Task<string> RunCoreAsync(ExportMessage message, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var clock = Stopwatch.StartNew();
        if (await exports.ReadAsync(message.WorkspaceId, message.ExportId, cancellationToken) is not { } found)
        {
            logger.LogWarning("Export {ExportId} of {WorkspaceId} has no status row; nothing to do", message.ExportId, message.WorkspaceId);
            return "No such export; nothing to do.";
        }
        var (record, etag) = found;
        if (ExportStatus.IsFinal(record.Status))
        {
            return $"Export {record.Id} already {record.Status}.";
        }
        var now = time.GetUtcNow();
        if (record.IsStalled(now, o.StalledAfter))
        {
            // Already shown as failed: it must not come back to life.
            await exports.SaveAsync(record with { Status = ExportStatus.Failed, FailureReason = ExportRecord.StalledReason(o.StalledAfter), UpdatedAt = now }, etag, cancellationToken);
            return $"Export {record.Id} had stalled; failed.";
        }
        if (!record.Staged)
        {
            var staged = await StageAsync(message, record, etag, now, clock, cancellationToken);
            if (staged.Stopped is not null)
            {
                return staged.Stopped;
            }
            (record, etag) = (staged.Record, staged.ETag);
        }
        return await CommitAsync(record, etag, cancellationToken);
    }

    /// <summary>
    /// Stages the rows from the last checkpoint on with <see cref="CsvBlockWriter"/>, saving the row
    /// after each block; <c>Stopped</c> is the log line when this run ends before the commit.
    /// </summary>
    private async Task<(ExportRecord Record, ETag ETag, string? Stopped)> StageAsync(ExportMessage message, ExportRecord record, ETag etag, DateTimeOffset now, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var o = options.Value;
        var header = record.BlockCount == 0;
        if (record.Status == ExportStatus.Queued)
        {
            record = record with { Status = ExportStatus.Running, UpdatedAt = now };
            if (await exports.SaveAsync(record, etag, cancellationToken) is not { } started)
            {
                return (record, etag, Superseded(record));
            }
            etag = started;
        }
        var checkpoint = new RowCheckpoint(exports, time, Guid.NewGuid().ToString("N")[..8], record, etag);
        var query = record.Query with { Limit = PageSize };
        var writer = new CsvBlockWriter(exports.Container.GetBlockBlobClient(record.BlobName), o.BlockBytes);
        var end = await writer.WriteAsync((position, ct) => queries.QueryAsync(query, position, ct), record.Position, header, checkpoint,
            () => clock.Elapsed >= o.MaxRunTime, cancellationToken);
        record = checkpoint.Record;
        if (end == CsvWriteEnd.Superseded)
        {
            return (record, checkpoint.ETag, Superseded(record));
        }
        if (end == CsvWriteEnd.TimeUp)
        {
            // Checkpointed: a fresh message carries on, with fresh tries and a fresh function timeout.
            await exports.EnqueueAsync(message, cancellationToken);
            logger.LogInformation("Export {ExportId} of {WorkspaceId}: {Rows} rows in {Blocks} blocks so far; continued by a new message",
                record.Id, record.WorkspaceId, record.RowCount, record.BlockCount);
            return (record, checkpoint.ETag, $"Export {record.Id}: {record.RowCount} rows so far; continued by a new message.");
        }
        return (record, checkpoint.ETag, null);
    }

    /// <summary>Commits the staged blocks, records the export's audit event and marks it succeeded; each step can be repeated after a crash.</summary>
    private async Task<string> CommitAsync(ExportRecord record, ETag etag, CancellationToken cancellationToken)
    {
        var headers = new BlobHttpHeaders { ContentType = "text/csv; charset=utf-8", ContentDisposition = $"attachment; filename=\"{record.FileName}\"" };
        // Committing the same list again (a run after a crash) finds the same blocks, committed by then.
        await exports.Container.GetBlockBlobClient(record.BlobName)
            .CommitBlockListAsync(record.BlockIds(), new CommitBlockListOptions { HttpHeaders = headers }, cancellationToken);
        await exports.RecordAsync(record, cancellationToken);
        var done = record with { Status = ExportStatus.Succeeded, UpdatedAt = time.GetUtcNow() };
        if (await exports.SaveAsync(done, etag, cancellationToken) is null)
        {
            return Superseded(record);
        }
        telemetry?.ExportSucceeded(record.RowCount, done.UpdatedAt - record.CreatedAt);
        logger.LogInformation("Export {ExportId} of {WorkspaceId} done: {Rows} rows, {Bytes} bytes in {Blocks} blocks",
            record.Id, record.WorkspaceId, record.RowCount, record.ByteSize, record.BlockCount);
        return $"Export {record.Id} succeeded: {record.RowCount} rows.";
    }

    /// <summary>The export's row as a run moves it on: saved after each staged block with the ETag it was read with.</summary>
    private sealed class RowCheckpoint(ExportService exports, TimeProvider time, string run, ExportRecord record, ETag etag) : IBlockCheckpoint
    {
        public ExportRecord Record { get; private set; } = record;

        public ETag ETag { get; private set; } = etag;

        public string NextBlockId() => ExportRecord.BlockId(run, Record.BlockCount);

        public async Task<bool> SaveAsync(StagedBlock block, CancellationToken cancellationToken)
        {
            Record = Record.WithBlock(run, block.Rows, block.Bytes, block.Next, time.GetUtcNow());
            if (await exports.SaveAsync(Record, ETag, cancellationToken) is not { } saved)
            {
                return false;
            }
            ETag = saved;
            return true;
        }
    }

    private string Superseded(ExportRecord record)
    {
        logger.LogWarning("Export {ExportId} of {WorkspaceId} was moved on by another run; this one stops", record.Id, record.WorkspaceId);
        return $"Export {record.Id} is being run by another delivery; this one stopped.";
    }

    /// <summary>Marks the export failed with <paramref name="reason"/>, unless it is already final. Never throws: it runs on the way out of a failure.</summary>
    public async Task FailAsync(ExportMessage message, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (await exports.ReadAsync(message.WorkspaceId, message.ExportId, cancellationToken) is not { } found || ExportStatus.IsFinal(found.Record.Status))
                {
                    return;
                }
                var (record, etag) = found;
                if (await exports.SaveAsync(record with { Status = ExportStatus.Failed, FailureReason = reason, UpdatedAt = time.GetUtcNow() }, etag, cancellationToken) is not null)
                {
                    telemetry?.ExportFailed();
                    logger.LogError("Export {ExportId} of {WorkspaceId} failed: {Reason}", record.Id, record.WorkspaceId, reason);
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // Its row stays queued or running, and shows as failed once it has stalled.
            logger.LogError("Export {ExportId} of {WorkspaceId} failed ({Reason}), and recording that failed too: {Failure}",
                message.ExportId, message.WorkspaceId, reason, StorageFailures.Describe(ex));
        }
    }
}
