using AuditTrail.Core.Query;
using Azure.Storage.Blobs.Specialized;

namespace AuditTrail.Core.Export;

/// <summary>A block the writer staged: its id, its data rows and bytes, and where the query goes on after its last row (null: nothing is left).</summary>
public sealed record StagedBlock(string Id, long Rows, long Bytes, QueryPosition? Next);

/// <summary>What the writer asks between blocks: the next block's id, and to keep a staged block (a checkpoint).</summary>
public interface IBlockCheckpoint
{
    /// <summary>The id of the block about to be staged (a blob's block ids all have one length).</summary>
    string NextBlockId();

    /// <summary>Keeps <paramref name="block"/>; false when another run has moved the export on, and this one must stop.</summary>
    Task<bool> SaveAsync(StagedBlock block, CancellationToken cancellationToken);
}

/// <summary>Why <see cref="CsvBlockWriter.WriteAsync"/> returned.</summary>
public enum CsvWriteEnd
{
    /// <summary>Every row is in a kept block.</summary>
    AllStaged,

    /// <summary>The run's time is up; the last block is kept and the rest is for another run.</summary>
    TimeUp,

    /// <summary>A checkpoint was refused: another run owns the export.</summary>
    Superseded,
}

/// <summary>
/// The export's writer: query pages as CSV in one reused <see cref="CsvBlockBuffer"/>, staged as a block
/// of <paramref name="blob"/> each time it holds <paramref name="blockBytes"/> (always at a page
/// boundary, so a checkpoint's position is exact), and a checkpoint after every block. What is held in
/// memory is that buffer and one page, however many rows there are. Nothing is committed here: the
/// caller commits the kept blocks' list once all are staged, so a failed export publishes nothing.
/// </summary>
public sealed class CsvBlockWriter(BlockBlobClient blob, int blockBytes)
{
    /// <param name="pages">The rows, a page at a time from a position (the query API's order).</param>
    /// <param name="from">Where to go on from: the last checkpoint's position, or null for the start.</param>
    /// <param name="header">Whether the CSV header goes first (only in the blob's first block).</param>
    /// <param name="timeUp">Whether the run should stop at the next block, full or not.</param>
    public async Task<CsvWriteEnd> WriteAsync(Func<QueryPosition?, CancellationToken, Task<AuditEventPage>> pages, QueryPosition? from, bool header,
        IBlockCheckpoint checkpoint, Func<bool> timeUp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pages);
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(timeUp);
        await using var buffer = new CsvBlockBuffer(blockBytes);
        if (header)
        {
            buffer.WriteHeader();
        }
        var position = from;
        while (true)
        {
            var page = await pages(position, cancellationToken);
            foreach (var e in page.Events)
            {
                buffer.Write(e);
            }
            position = page.Next;
            // A block when it is full, or, once the run's time is up, whatever is pending: a
            // selective filter over a long window may take longer than the run to fill one.
            if (position is not null && await buffer.LengthAsync(cancellationToken) is var pending
                && pending < blockBytes && (!timeUp() || pending == 0))
            {
                continue;
            }
            var id = checkpoint.NextBlockId();
            var rows = buffer.PendingRows;
            var bytes = await buffer.StageAsync(blob, id, cancellationToken);
            if (!await checkpoint.SaveAsync(new StagedBlock(id, rows, bytes, position), cancellationToken))
            {
                return CsvWriteEnd.Superseded;
            }
            if (position is null)
            {
                return CsvWriteEnd.AllStaged;
            }
            if (timeUp())
            {
                return CsvWriteEnd.TimeUp;
            }
        }
    }
}
