using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace AuditTrail.Core.Integrity;

/// <summary>One (event id, row hash) pair a digest covers.</summary>
public sealed record LedgerLeaf(string EventId, byte[] RowHash);

/// <summary>
/// The Merkle tree hash of RFC 6962 §2.1 over a digest's entries, so one event can later be proven
/// with a short audit path. Leaves are ordered by the UTF-8 bytes of the event id, then by the row
/// hash; leaf data is u32 big-endian length + UTF-8 id + the 32-byte row hash. Leaf hash
/// SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right), the split at the largest power
/// of two below n; the empty tree is SHA-256 of nothing.
/// </summary>
public static class MerkleTree
{
    public static byte[] Root(IEnumerable<LedgerLeaf> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var leaves = entries
            .Select(e => (Id: Encoding.UTF8.GetBytes(e.EventId), e.RowHash))
            .OrderBy(e => e.Id, ByteOrder.Instance).ThenBy(e => e.RowHash, ByteOrder.Instance)
            .Select(e => LeafHash(e.Id, e.RowHash))
            .ToList();
        return leaves.Count == 0 ? SHA256.HashData([]) : Hash(leaves, 0, leaves.Count);
    }

    public static byte[] LeafHash(byte[] idUtf8, byte[] rowHash)
    {
        ArgumentNullException.ThrowIfNull(idUtf8);
        ArgumentNullException.ThrowIfNull(rowHash);
        var data = new byte[1 + 4 + idUtf8.Length + rowHash.Length];
        data[0] = 0x00;
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(1), (uint)idUtf8.Length);
        idUtf8.CopyTo(data, 5);
        rowHash.CopyTo(data, 5 + idUtf8.Length);
        return SHA256.HashData(data);
    }

    private static byte[] Hash(List<byte[]> leaves, int from, int count)
    {
        if (count == 1)
        {
            return leaves[from];
        }
        var k = 1;
        while (k << 1 < count)
        {
            k <<= 1;
        }
        var node = new byte[65];
        node[0] = 0x01;
        Hash(leaves, from, k).CopyTo(node, 1);
        Hash(leaves, from + k, count - k).CopyTo(node, 33);
        return SHA256.HashData(node);
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
