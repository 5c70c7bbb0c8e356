using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using System.Text.Encodings.Web;
using System.Text.Json;
using AuditTrail.Core.Events;
using AuditTrail.Core.Telemetry;
using AuditTrail.Core.Trail;
using Azure.Storage.Blobs.Models;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// Keeps rejected input in blob container <c>audit-deadletter</c>, one JSON line per event with
/// its reason and the raw payload, so it can be fixed and replayed. The blob name is derived from
/// the content and the workspaces, so a retried invocation rewrites the same blob instead of
/// adding a copy (<see cref="BlobName"/>).
/// </summary>
public sealed class DeadLetterStore(TrailTables store, AuditTrailTelemetry? telemetry = null)
{
    public async Task<string> WriteAsync(
        IReadOnlyList<(IngestRejection Rejection, RawEvent Raw)> items, IngestContext context, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        // Sized for what it will hold (raw input plus a line of fields each), so a batch of large
        // messages is not copied over and over as the buffer doubles.
        // Bytes that are valid UTF-8 are kept as bytes; checked once each (an input may be 100 MB).
        var utf8 = items.Select(i => i.Raw.Utf8 is { } b && Utf8.IsValid(b.Span) ? b : (ReadOnlyMemory<byte>?)null).ToArray();
        using var buffer = new MemoryStream((int)Math.Min(int.MaxValue / 2, items.Sum(i => (long)(i.Raw.Utf8?.Length ?? i.Raw.Text?.Length ?? 256) + 512)));
        for (var n = 0; n < items.Count; n++)
        {
            using (var writer = new Utf8JsonWriter(buffer, AuditTrail.Core.Events.JsonDefaults.Relaxed))
            {
                WriteLine(writer, items[n].Rejection, items[n].Raw, utf8[n], context, receivedAt);
            }
            buffer.WriteByte((byte)'\n');
        }

        var name = BlobName(items, context, receivedAt);
        // No condition: a retried invocation's dead letters replace the same blob, byte for byte.
        // Uploaded from the buffer itself: a copy of it would double what a large batch holds.
        buffer.Position = 0;
        await store.DeadLetters.GetBlobClient(name).UploadAsync(buffer,
            new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/x-ndjson" } }, cancellationToken);
        telemetry?.DeadLettered(context.Door, items.Select(i => i.Rejection.Code));
        return name;
    }

    /// <summary>One dead letter: why it was refused, where it came from, and the raw input as it arrived.</summary>
    private static void WriteLine(Utf8JsonWriter writer, IngestRejection rejection, RawEvent raw, ReadOnlyMemory<byte>? utf8, IngestContext context, DateTimeOffset receivedAt)
    {
        writer.WriteStartObject();
        writer.WriteString("code", rejection.Code);
        WriteIfSet(writer, "reason", rejection.Reason);
        WriteIfSet(writer, "field", rejection.Field);
        writer.WriteNumber("index", rejection.Index);
        WriteIfSet(writer, "eventId", rejection.EventId);
        WriteIfSet(writer, "workspaceId", rejection.WorkspaceId);
        writer.WriteString("door", context.Door);
        WriteIfSet(writer, "invocationId", context.InvocationId);
        writer.WriteString("receivedAt", receivedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        if (raw.Origin is { Count: > 0 } origin)
        {
            writer.WriteStartObject("origin");
            foreach (var (key, value) in origin)
            {
                writer.WriteString(key, value);
            }
            writer.WriteEndObject();
        }
        WriteRaw(writer, raw, utf8);
        writer.WriteEndObject();
    }

    /// <summary>
    /// Raw text, not re-serialized JSON: what arrived is what is kept, even if it is not JSON.
    /// Text that is not valid UTF-16 cannot be written as a JSON string; its exact code units are kept instead.
    /// </summary>
    private static void WriteRaw(Utf8JsonWriter writer, RawEvent raw, ReadOnlyMemory<byte>? utf8)
    {
        if (utf8 is { Length: > MaxRawPartBytes } large)
        {
            // Larger than one JSON string may be (the writer refuses values over 166,666,666
            // bytes; a whole invocation reaches 256 MiB): kept as consecutive parts, each
            // cut between characters, whose concatenation is the input.
            writer.WriteStartArray("rawParts");
            foreach (var part in Parts(large, MaxRawPartBytes))
            {
                writer.WriteStringValue(part.Span);
            }
            writer.WriteEndArray();
        }
        else if (utf8 is { } bytes)
        {
            // Bytes taken from an invocation are written as they are, never copied to UTF-16 (they may be 100 MB).
            writer.WriteString("raw", bytes.Span);
        }
        else if (raw.RawText is var rawText && HasLoneSurrogate(rawText))
        {
            writer.WriteString("rawUtf16Base64", Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rawText.AsSpan())));
        }
        else
        {
            writer.WriteString("raw", rawText);
        }
    }

    /// <summary>
    /// Named by what was refused (door, workspaces, raw input, reasons), not by when: a retried
    /// invocation on the same day writes the same blob again instead of a second copy, while the
    /// same bytes refused for two workspaces are two records, each with its own workspace. Where
    /// every item names one valid workspace it is in the name too (<c>{door}-{workspace}-{hash}</c>;
    /// the hash is the fixed-length last part), so an operator finds a workspace's dead letters by
    /// listing.
    /// </summary>
    internal static string BlobName(IReadOnlyList<(IngestRejection Rejection, RawEvent Raw)> items, IngestContext context, DateTimeOffset receivedAt)
    {
        using var identity = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        identity.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{context.Door}\u001f{context.WorkspaceId}")));
        foreach (var (rejection, raw) in items)
        {
            identity.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"\u001e{rejection.Index}\u001f{rejection.Code}\u001f{rejection.WorkspaceId}\u001f")));
            raw.AppendTo(identity);
        }
        var hash = Convert.ToHexString(identity.GetHashAndReset(), 0, 16).ToLowerInvariant();
        var workspaces = items.Select(i => i.Rejection.WorkspaceId ?? context.WorkspaceId).Distinct(StringComparer.Ordinal).ToList();
        var workspace = workspaces is [{ } one] && WorkspaceIds.IsValid(one) ? one + "-" : "";
        return $"{receivedAt.UtcDateTime:yyyy/MM/dd}/{context.Door}-{workspace}{hash}.jsonl";
    }

    /// <summary>The longest raw input written as one JSON string; longer ones are written in parts of this size.</summary>
    internal const int MaxRawPartBytes = 64 * 1024 * 1024;

    /// <summary>Consecutive slices of at most <paramref name="max"/> bytes, never cutting a UTF-8 sequence.</summary>
    internal static IEnumerable<ReadOnlyMemory<byte>> Parts(ReadOnlyMemory<byte> utf8, int max)
    {
        while (utf8.Length > 0)
        {
            var length = Math.Min(max, utf8.Length);
            // Back up over continuation bytes (10xxxxxx) so the cut falls before a sequence's first byte.
            while (length < utf8.Length && length > 0 && (utf8.Span[length] & 0xC0) == 0x80)
            {
                length--;
            }
            if (length == 0)
            {
                // A limit shorter than one character: that character whole.
                length = 1;
                while (length < utf8.Length && (utf8.Span[length] & 0xC0) == 0x80)
                {
                    length++;
                }
            }
            yield return utf8[..length];
            utf8 = utf8[length..];
        }
    }

    private static void WriteIfSet(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, HasLoneSurrogate(value) ? new string(value.Select(c => char.IsSurrogate(c) ? '\uFFFD' : c).ToArray()) : value);
        }
    }

    internal static bool HasLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }
        return false;
    }
}
