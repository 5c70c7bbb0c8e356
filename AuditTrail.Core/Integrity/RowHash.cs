using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace AuditTrail.Core.Integrity;

/// <summary>
/// The content hash the ledger keeps: SHA-256 over a canonical form of one stored row, computed
/// from the row as ingest writes it and recomputed by verification from the row as storage returns
/// it. Every property counts (the catalog's, the receive time and door too, and any property
/// someone added) except the keys and the service's own <c>Timestamp</c>/ETag, which a replay's
/// identical rewrite changes. Byte for byte (docs/integrity.md):
/// <c>"ATROW1"</c>, then per property in ordinal order of its name: u32 big-endian length and the
/// UTF-8 name, a type byte and the value — <c>S</c> u32 length + UTF-8; <c>B</c> one byte 0/1;
/// <c>D</c> i64 big-endian UTC ticks (100 ns since 0001-01-01); <c>I</c> i32; <c>L</c> i64;
/// <c>F</c> IEEE-754 bits as i64; <c>G</c> the 16 bytes of <see cref="Guid.ToByteArray()"/>;
/// <c>X</c> u32 length + bytes.
/// </summary>
public static class RowHash
{
    private static readonly byte[] Magic = "ATROW1"u8.ToArray();

    public static byte[] Compute(IEnumerable<KeyValuePair<string, object>> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var ordered = properties
            .Where(p => p.Value is not null && p.Key is not ("PartitionKey" or "RowKey" or "Timestamp") && !p.Key.StartsWith("odata.", StringComparison.Ordinal))
            .OrderBy(p => p.Key, StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Magic);
        Span<byte> number = stackalloc byte[8];
        foreach (var (name, value) in ordered)
        {
            AppendText(hash, name, number);
            AppendValue(hash, value, number);
        }
        return hash.GetHashAndReset();
    }

    /// <summary>The value's type byte and its bytes, as the class comment spells them.</summary>
    private static void AppendValue(IncrementalHash hash, object value, Span<byte> number)
    {
        switch (value)
        {
            case string s:
                hash.AppendData("S"u8);
                AppendText(hash, s, number);
                break;
            case bool b:
                hash.AppendData("B"u8);
                hash.AppendData(b ? [1] : [0]);
                break;
            case DateTimeOffset d:
                AppendLong(hash, "D"u8, d.UtcTicks, number);
                break;
            case DateTime d:
                AppendLong(hash, "D"u8, d.ToUniversalTime().Ticks, number);
                break;
            case int i:
                hash.AppendData("I"u8);
                BinaryPrimitives.WriteInt32BigEndian(number, i);
                hash.AppendData(number[..4]);
                break;
            case long l:
                AppendLong(hash, "L"u8, l, number);
                break;
            case double f:
                AppendLong(hash, "F"u8, BitConverter.DoubleToInt64Bits(f), number);
                break;
            case Guid g:
                hash.AppendData("G"u8);
                hash.AppendData(g.ToByteArray());
                break;
            case byte[] x:
                hash.AppendData("X"u8);
                BinaryPrimitives.WriteUInt32BigEndian(number, (uint)x.Length);
                hash.AppendData(number[..4]);
                hash.AppendData(x);
                break;
            case BinaryData x:
                hash.AppendData("X"u8);
                var bytes = x.ToArray();
                BinaryPrimitives.WriteUInt32BigEndian(number, (uint)bytes.Length);
                hash.AppendData(number[..4]);
                hash.AppendData(bytes);
                break;
            default:
                // Anything else the table could hold is spelled out, so it still changes the hash.
                hash.AppendData("S"u8);
                AppendText(hash, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, number);
                break;
        }
    }

    private static void AppendLong(IncrementalHash hash, ReadOnlySpan<byte> tag, long value, Span<byte> number)
    {
        hash.AppendData(tag);
        BinaryPrimitives.WriteInt64BigEndian(number, value);
        hash.AppendData(number);
    }

    private static void AppendText(IncrementalHash hash, string text, Span<byte> number)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        BinaryPrimitives.WriteUInt32BigEndian(number, (uint)bytes.Length);
        hash.AppendData(number[..4]);
        hash.AppendData(bytes);
    }
}
