using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AuditTrail.Core.Trail;

/// <summary>
/// The table layout of the trail (docs/architecture.md, "Storage layout"). One partition per
/// workspace and UTC day; a primary row and three index rows per event, each a full copy.
/// Ids are hostile input: <see cref="Encode"/> makes them safe, injective and free of the
/// <c>_</c> separator, so a prefix scan for one id can never match another.
/// </summary>
public static class TrailKeys
{
    public const string PrimaryPrefix = "e_";
    public const string ActorPrefix = "a_";
    public const string TypePrefix = "t_";
    public const string ResourcePrefix = "r_";

    /// <summary>Encoded ids longer than this are replaced by a hash, keeping every key far below the 1 KiB limit.</summary>
    public const int MaxEncodedLength = 96;

    public static string PartitionKey(string workspaceId, DateTimeOffset timestamp) =>
        PartitionKey(workspaceId, DateOnly.FromDateTime(timestamp.UtcDateTime));

    public static string PartitionKey(string workspaceId, DateOnly utcDay) =>
        string.Create(workspaceId.Length + 1 + DayKeys.Length, (workspaceId, utcDay), static (chars, state) =>
        {
            state.workspaceId.CopyTo(chars);
            chars[state.workspaceId.Length] = '_';
            DayKeys.Write(state.utcDay, chars[(state.workspaceId.Length + 1)..]);
        });

    /// <summary>Descending time order inside a partition: newer events sort first.</summary>
    public static string ReverseTicks(DateTimeOffset timestamp) =>
        ReverseTickCount(timestamp).ToString("D19", CultureInfo.InvariantCulture);

    private static long ReverseTickCount(DateTimeOffset timestamp) => DateTime.MaxValue.Ticks - timestamp.UtcTicks;

    /// <summary>What every row key of one event ends with: its time, descending, and its id.</summary>
    public static string EventSuffix(DateTimeOffset timestamp, string eventId) =>
        // ReverseTicks + "_" + the id, in one allocation.
        string.Create(CultureInfo.InvariantCulture, stackalloc char[128], $"{ReverseTickCount(timestamp):D19}_{Encode(eventId)}");

    public static string PrimaryRowKey(DateTimeOffset timestamp, string eventId) =>
        PrimaryPrefix + EventSuffix(timestamp, eventId);

    public static string ActorRowKey(string actorId, DateTimeOffset timestamp, string eventId) =>
        ActorRowKey(actorId, EventSuffix(timestamp, eventId));

    public static string TypeRowKey(string type, DateTimeOffset timestamp, string eventId) =>
        TypeRowKey(type, EventSuffix(timestamp, eventId));

    public static string ResourceRowKey(string resourceType, string resourceId, DateTimeOffset timestamp, string eventId) =>
        ResourceRowKey(resourceType, resourceId, EventSuffix(timestamp, eventId));

    // The index row keys from an event's suffix (EventSuffix), each made in one allocation: ingest
    // builds three per event.
    public static string ActorRowKey(string actorId, string eventSuffix) =>
        string.Concat(ActorPrefix, Encode(actorId), "_", eventSuffix);

    public static string TypeRowKey(string type, string eventSuffix) =>
        string.Concat(TypePrefix, Encode(type), "_", eventSuffix);

    public static string ResourceRowKey(string resourceType, string resourceId, string eventSuffix) =>
        string.Concat([ResourcePrefix, Encode(resourceType), ":", Encode(resourceId), "_", eventSuffix]);

    // A family's prefix is its row key with nothing after it, so the layout is written once.
    public static string ActorPrefixFor(string actorId) => ActorRowKey(actorId, string.Empty);

    public static string TypePrefixFor(string type) => TypeRowKey(type, string.Empty);

    public static string ResourcePrefixFor(string resourceType, string resourceId) => ResourceRowKey(resourceType, resourceId, string.Empty);

    /// <summary>
    /// ASCII letters, digits, '-' and '.' stay as they are; every other UTF-8 byte becomes
    /// <c>~XX</c>. The result never holds '/', '\', '#', '?', control characters, '_' or ':',
    /// so it is a legal key and leaves '_' and ':' free as separators. A result longer than
    /// <see cref="MaxEncodedLength"/> becomes <c>~~</c> and 40 hex digits of its SHA-256
    /// (the form <c>~~</c> never arises from the escape rule); rows keep the original id.
    /// </summary>
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        // Most ids need no escape at all: then the id is its own encoding (and nothing is allocated).
        if (value.Length <= MaxEncodedLength && !value.AsSpan().ContainsAnyExcept(Unescaped))
        {
            return value;
        }
        var byteCount = Encoding.UTF8.GetByteCount(value);
        byte[]? rented = null;
        var bytes = byteCount <= 512 ? stackalloc byte[byteCount] : (rented = ArrayPool<byte>.Shared.Rent(byteCount)).AsSpan(0, byteCount);
        try
        {
            Encoding.UTF8.GetBytes(value, bytes);
            var length = 0;
            foreach (var b in bytes)
            {
                length += IsUnescaped(b) ? 1 : 3;
            }
            if (length > MaxEncodedLength)
            {
                Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
                SHA256.HashData(bytes, hash);
                return "~~" + Convert.ToHexString(hash[..20]);
            }
            Span<char> chars = stackalloc char[length];
            var at = 0;
            foreach (var b in bytes)
            {
                if (IsUnescaped(b))
                {
                    chars[at++] = (char)b;
                }
                else
                {
                    chars[at++] = '~';
                    chars[at++] = HexDigits[b >> 4];
                    chars[at++] = HexDigits[b & 0xF];
                }
            }
            return new string(chars);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private const string HexDigits = "0123456789ABCDEF";

    private static readonly SearchValues<char> Unescaped = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.");

    private static bool IsUnescaped(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.';
}
