using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using System.Text.Encodings.Web;
using System.Text.Json;
using AuditTrail.Core.Trail;
using Azure.Storage.Blobs.Models;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// Keeps rejected input in blob container <c>audit-deadletter</c>, one JSON line per event with
/// its reason and the raw payload, so it can be fixed and replayed. The blob name is derived from
/// the content, so a retried invocation rewrites the same blob instead of adding a copy.
/// </summary>
public sealed class DeadLetterStore(TrailStore store)
{

    public async Task<string> WriteAsync(
        IReadOnlyList<(IngestRejection Rejection, RawEvent Raw)> items, IngestContext context, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        // Sized for what it will hold (raw input plus a line of fields each), so a batch of large
        // messages is not copied over and over as the buffer doubles.
        using var buffer = new MemoryStream((int)Math.Min(int.MaxValue / 2, items.Sum(i => (long)(i.Raw.Utf8?.Length ?? i.Raw.Text?.Length ?? 256) + 512)));
        foreach (var (rejection, raw) in items)
        {
            using (var writer = new Utf8JsonWriter(buffer, AuditTrail.Core.JsonDefaults.Relaxed))
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
                // Raw text, not re-serialized JSON: what arrived is what is kept, even if it is not JSON.
                // Text that is not valid UTF-16 cannot be written as a JSON string; keep its exact code units instead.
                if (raw.Utf8 is { } utf8 && Utf8.IsValid(utf8.Span))
                {
                    // Bytes taken from an invocation are written as they are, never copied to UTF-16 (they may be 100 MB).
                    writer.WriteString("raw", utf8.Span);
                }
                else if (raw.RawText is var rawText && HasLoneSurrogate(rawText))
                {
                    writer.WriteString("rawUtf16Base64", Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rawText.AsSpan())));
                }
                else
                {
                    writer.WriteString("raw", rawText);
                }
                writer.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
        }

        // Named by what was refused (door, raw input, reasons), not by when: a retried invocation
        // on the same day writes the same blob again instead of a second copy.
        using var identity = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        identity.AppendData(Encoding.UTF8.GetBytes(context.Door));
        foreach (var (rejection, raw) in items)
        {
            identity.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"\u001e{rejection.Index}\u001f{rejection.Code}\u001f")));
            if (raw.Utf8 is { } utf8 && Utf8.IsValid(utf8.Span))
            {
                identity.AppendData(utf8.Span);
            }
            else
            {
                identity.AppendData(Encoding.UTF8.GetBytes(raw.RawText));
            }
        }
        var hash = Convert.ToHexString(identity.GetHashAndReset(), 0, 16).ToLowerInvariant();
        var name = $"{receivedAt.UtcDateTime:yyyy/MM/dd}/{context.Door}-{hash}.jsonl";
        // No condition: a retried invocation's dead letters replace the same blob, byte for byte.
        // Uploaded from the buffer itself: a copy of it would double what a large batch holds.
        buffer.Position = 0;
        await store.DeadLetters.GetBlobClient(name).UploadAsync(buffer,
            new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/x-ndjson" } }, cancellationToken);
        return name;
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
