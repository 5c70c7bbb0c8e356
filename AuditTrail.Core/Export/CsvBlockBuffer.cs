using System.Text;
using AuditTrail.Core.Events;
using Azure.Storage.Blobs.Specialized;
using CsvHelper;

namespace AuditTrail.Core.Export;

/// <summary>
/// CSV rows in one reused buffer, staged as a block of a block blob (Put Block) when the caller
/// says. The buffer is sent as it is, without a copy, and emptied; nothing is visible until someone
/// commits a block list, so a failed export publishes nothing (uncommitted blocks are discarded by
/// the service after a week). That is why this is not the client's <c>OpenWrite</c> stream, whose
/// dispose commits whatever was written.
/// </summary>
public sealed class CsvBlockBuffer : IAsyncDisposable
{
    private readonly MemoryStream _buffer;
    private readonly StreamWriter _writer;
    private readonly CsvWriter _csv;

    /// <param name="blockBytes">The block size the caller aims for; the buffer starts that large (and a little more) so it seldom regrows.</param>
    public CsvBlockBuffer(int blockBytes)
    {
        _buffer = new MemoryStream(blockBytes + (64 * 1024));
        _writer = new StreamWriter(_buffer, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        _csv = new CsvWriter(_writer, AuditCsv.Configuration, leaveOpen: true);
    }

    /// <summary>Data rows written since the last block was staged.</summary>
    public long PendingRows { get; private set; }

    public void WriteHeader() => AuditCsv.WriteHeader(_csv);

    public void Write(AuditEvent e)
    {
        AuditCsv.WriteRow(_csv, e);
        PendingRows++;
    }

    /// <summary>Bytes written since the last block was staged.</summary>
    public async Task<long> LengthAsync(CancellationToken cancellationToken)
    {
        await _csv.FlushAsync();
        await _writer.FlushAsync(cancellationToken);
        return _buffer.Length;
    }

    /// <summary>Stages what the buffer holds as block <paramref name="blockId"/> and empties it; returns the block's bytes.</summary>
    public async Task<long> StageAsync(BlockBlobClient blob, string blockId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var length = await LengthAsync(cancellationToken);
        // The buffer itself, not a copy; seekable, so the client can send it again on a retry.
        using (var block = new MemoryStream(_buffer.GetBuffer(), 0, (int)length, writable: false))
        {
            await blob.StageBlockAsync(blockId, block, cancellationToken: cancellationToken);
        }
        _buffer.SetLength(0);
        PendingRows = 0;
        return length;
    }

    public async ValueTask DisposeAsync()
    {
        await _csv.DisposeAsync();
        await _writer.DisposeAsync();
        await _buffer.DisposeAsync();
    }
}
