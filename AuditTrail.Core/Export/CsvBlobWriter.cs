using System.Text;
using AuditTrail.Core.Events;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using CsvHelper;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Export;

/// <summary>What a CSV upload wrote: data rows (header excluded), bytes and blocks.</summary>
public sealed record CsvBlobResult(long RowCount, long ByteSize, int BlockCount);

/// <summary>
/// Streams audit events into one block blob as CSV: rows go into a single reused buffer, which is
/// staged as a block (Put Block) each time it holds <see cref="BlockBytes"/>, and the block list is
/// committed explicitly at the end (Put Block List). What is held in memory is that buffer and
/// whatever the event source holds, however many rows there are. Nothing is visible until the
/// commit, so a failed export publishes nothing (uncommitted blocks are discarded by the service
/// after a week); that is why this is not the client's <c>OpenWrite</c> stream, whose dispose commits
/// whatever was written.
/// </summary>
public sealed class CsvBlobWriter(BlobContainerClient container, ILogger logger)
{
    private const int RowsBetweenChecks = 64;
    private const int ProgressEveryRows = 50_000;

    /// <summary>Size of each staged block; also the bound on the CSV held in memory.</summary>
    public int BlockBytes { get; init; } = 4 * 1024 * 1024;

    public async Task<CsvBlobResult> WriteAsync(string blobName, IAsyncEnumerable<AuditEvent> events, BlobHttpHeaders headers, CancellationToken cancellationToken = default)
    {
        var blob = container.GetBlockBlobClient(blobName);
        var blockIds = new List<string>();
        long rows = 0, bytes = 0;
        // Room for a full block plus the rows written between two size checks, so the stream never regrows.
        using var buffer = new MemoryStream(BlockBytes + (64 * 1024));
        await using (var writer = new StreamWriter(buffer, new UTF8Encoding(false), 64 * 1024, leaveOpen: true))
        await using (var csv = new CsvWriter(writer, AuditCsv.Configuration, leaveOpen: true))
        {
            async Task StageAsync(bool final)
            {
                await csv.FlushAsync();
                await writer.FlushAsync(cancellationToken);
                if (buffer.Length == 0 || (!final && buffer.Length < BlockBytes))
                {
                    return;
                }
                // Block ids must all have the same length within a blob.
                var blockId = Convert.ToBase64String(Encoding.ASCII.GetBytes($"block-{blockIds.Count:D6}"));
                // The buffer itself, not a copy; seekable, so the client can send it again on a retry.
                using var block = new MemoryStream(buffer.GetBuffer(), 0, (int)buffer.Length, writable: false);
                await blob.StageBlockAsync(blockId, block, cancellationToken: cancellationToken);
                blockIds.Add(blockId);
                bytes += buffer.Length;
                buffer.SetLength(0);
            }

            AuditCsv.WriteHeader(csv);
            await foreach (var e in events.WithCancellation(cancellationToken))
            {
                AuditCsv.WriteRow(csv, e);
                if (++rows % RowsBetweenChecks == 0)
                {
                    await StageAsync(final: false);
                }
                if (rows % ProgressEveryRows == 0)
                {
                    logger.LogInformation("CSV {BlobName}: {Rows} rows, {Bytes} bytes so far", blobName, rows, bytes + buffer.Length);
                }
            }
            await StageAsync(final: true);
        }
        await blob.CommitBlockListAsync(blockIds, new CommitBlockListOptions { HttpHeaders = headers }, cancellationToken);
        return new CsvBlobResult(rows, bytes, blockIds.Count);
    }
}
