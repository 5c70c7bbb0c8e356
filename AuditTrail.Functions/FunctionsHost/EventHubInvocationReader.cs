using System.Globalization;
using System.Text.Json;
using AuditTrail.Core.Ingestion;
using AuditTrail.Functions.Hosting;
using static AuditTrail.Functions.FunctionsHost.InvocationPayload;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>
/// Reads the Functions host's Event Hubs invocation (<c>{"Data": {...}, "Metadata": {...}}</c>) into
/// a batch of events. The host's encoding is irregular (strings JSON-encoded twice, arrays sent as
/// JSON text), so the batch is accepted in any of the shapes it may take; each event is then judged strictly.
/// </summary>
public static class EventHubInvocationReader
{
    /// <summary>
    /// Outcome of reading a batch: the events, or why the payload could not be split into events;
    /// and which try of this batch it is (<c>Metadata.RetryContext</c>, when a retry policy is set).
    /// </summary>
    public sealed record Batch(IReadOnlyList<RawEvent> Events, string? Error, BatchAttempt Attempt);

    public static Batch ReadEventBatch(JsonElement root, string bindingName)
    {
        if (TriggerValue(root, bindingName, out var value) is { } error)
        {
            return new Batch([], error, BatchAttempt.First(null));
        }

        var metadata = TryGetProperty(root, "Metadata", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        var sequenceNumbers = MetadataArray(metadata, "SequenceNumberArray");
        var enqueuedTimes = MetadataArray(metadata, "EnqueuedTimeUtcArray");
        var partitionId = metadata.ValueKind == JsonValueKind.Object && TryGetProperty(metadata, "PartitionContext", out var pc)
            ? PartitionId(pc) : null;

        var events = new List<RawEvent>();
        foreach (var item in Items(value))
        {
            var i = events.Count;
            var origin = Origin(partitionId, At(sequenceNumbers, i), At(enqueuedTimes, i));
            events.Add(item.Utf8 is { } utf8 ? RawEvent.FromUtf8(utf8, origin)
                : item.Element.ValueKind == JsonValueKind.String ? RawEvent.FromUtf8(Body(item.Element), origin)
                : RawEvent.FromJson(item.Element, origin));
        }
        // Which batch this is, the same on every try of it: its partition and first sequence number.
        var key = partitionId is not null && At(sequenceNumbers, 0) is { } first
            ? string.Create(CultureInfo.InvariantCulture, $"{partitionId}/{first}/{sequenceNumbers!.Count}")
            : null;
        return new Batch(events, null, ReadRetryContext(metadata, key));
    }

    /// <summary><c>Metadata.RetryContext</c> (<c>{RetryCount, MaxRetryCount, Exception}</c>), present when the function has a retry policy.</summary>
    private static BatchAttempt ReadRetryContext(JsonElement metadata, string? key)
    {
        if (metadata.ValueKind != JsonValueKind.Object || !TryGetProperty(metadata, "RetryContext", out var context))
        {
            return BatchAttempt.First(key);
        }
        if (context.ValueKind == JsonValueKind.String && LooksLike(context.GetString(), '{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(context.GetString()!);
                return Attempt(doc.RootElement, key);
            }
            catch (JsonException)
            {
                return BatchAttempt.First(key);
            }
        }
        return Attempt(context, key);
    }

    private static BatchAttempt Attempt(JsonElement context, string? key)
    {
        if (context.ValueKind != JsonValueKind.Object)
        {
            return BatchAttempt.First(key);
        }
        int Number(string name) => TryGetProperty(context, name, out var n)
                                   && int.TryParse(Scalar(n).Trim('"'), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;
        return new BatchAttempt(key, Math.Max(0, Number("RetryCount")), Number("MaxRetryCount"));
    }

    /// <summary>One item of a batch: a JSON value, or a message's body unescaped to UTF-8.</summary>
    private readonly record struct Item(JsonElement Element, ReadOnlyMemory<byte>? Utf8);

    /// <summary>
    /// Flattens the shapes a batch may take. Level one, the batch: an array, or JSON text of an
    /// array (possibly encoded more than once), or a single message (cardinality one). Level two,
    /// each message: one event, or a body that is itself an array of events (flattened once).
    /// Text is unescaped straight to UTF-8 and parsed once per level; nothing is copied to UTF-16.
    /// </summary>
    private static IEnumerable<Item> Items(JsonElement value)
    {
        var (batch, document) = Unwrap(value);
        using (document)
        {
            if (batch.ValueKind != JsonValueKind.Array)
            {
                foreach (var item in Message(value))
                {
                    yield return item;
                }
                yield break;
            }
            foreach (var message in batch.EnumerateArray())
            {
                foreach (var item in Message(message))
                {
                    yield return item;
                }
            }
        }
    }

    private static IEnumerable<Item> Message(JsonElement message)
    {
        if (message.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in message.EnumerateArray())
            {
                yield return new Item(item, null);
            }
            yield break;
        }
        if (message.ValueKind != JsonValueKind.String)
        {
            yield return new Item(message, null);
            yield break;
        }
        var body = Body(message);
        if (FirstByte(body.Span) == (byte)'[')
        {
            JsonDocument? events = null;
            try
            {
                events = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                // Not an array after all: one event the reader will judge (and dead-letter).
            }
            if (events is not null)
            {
                using (events)
                {
                    foreach (var item in events.RootElement.EnumerateArray())
                    {
                        yield return new Item(item, null);
                    }
                }
                yield break;
            }
        }
        yield return new Item(default, body);
    }

    /// <summary>A JSON string's content unescaped to UTF-8; null when it holds an invalid UTF-16 sequence.</summary>
    private static ReadOnlyMemory<byte>? Utf8Of(JsonElement text)
    {
        var reader = new Utf8JsonReader(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(text));
        reader.Read();
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan.ToArray();
        }
        var buffer = new byte[reader.ValueSpan.Length];
        try
        {
            return buffer.AsMemory(0, reader.CopyString(buffer));
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// A message body held in a JSON string, as UTF-8. A string holding an invalid UTF-16 escape (a
    /// lone surrogate) is kept as its JSON text, quotes included: the reader finds a JSON string
    /// whose text is not valid and rejects that one event (<c>invalid_string</c>), where decoding it
    /// here would throw and fail the whole batch.
    /// </summary>
    private static ReadOnlyMemory<byte> Body(JsonElement text) => Utf8Of(text) ?? System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(text).ToArray();

    private static byte FirstByte(ReadOnlySpan<byte> json)
    {
        var trimmed = json.TrimStart(" \t\r\n"u8);
        return trimmed.IsEmpty ? (byte)0 : trimmed[0];
    }

    /// <summary>
    /// Decodes JSON text that holds an array or another JSON string, a few levels deep, from UTF-8
    /// to UTF-8. The document returned (if any) owns the value and is disposed by the caller.
    /// </summary>
    private static (JsonElement Value, JsonDocument? Document) Unwrap(JsonElement value)
    {
        JsonDocument? document = null;
        for (var depth = 0; depth < 3 && value.ValueKind == JsonValueKind.String; depth++)
        {
            if (Utf8Of(value) is not { } text || FirstByte(text.Span) is not ((byte)'[' or (byte)'"'))
            {
                break;
            }
            JsonDocument next;
            try
            {
                next = JsonDocument.Parse(text);
            }
            catch (JsonException)
            {
                break;
            }
            document?.Dispose();
            document = next;
            value = next.RootElement;
        }
        return (value, document);
    }

    /// <summary>Metadata arrays arrive as JSON text or as arrays; anything else is ignored (they are only context).</summary>
    private static List<string>? MetadataArray(JsonElement metadata, string name)
    {
        if (metadata.ValueKind != JsonValueKind.Object || !TryGetProperty(metadata, name, out var value))
        {
            return null;
        }
        try
        {
            if (value.ValueKind == JsonValueKind.String)
            {
                using var doc = JsonDocument.Parse(value.GetString()!);
                return doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement.EnumerateArray().Select(Scalar).ToList() : null;
            }
            return value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().Select(Scalar).ToList() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? PartitionId(JsonElement partitionContext)
    {
        if (partitionContext.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var doc = JsonDocument.Parse(partitionContext.GetString()!);
                return PartitionId(doc.RootElement.Clone());
            }
            catch (JsonException)
            {
                return null;
            }
        }
        return partitionContext.ValueKind == JsonValueKind.Object && TryGetProperty(partitionContext, "PartitionId", out var id) ? Scalar(id) : null;
    }

    private static string? At(List<string>? list, int index) => list is not null && index < list.Count ? list[index] : null;

    private static Dictionary<string, string>? Origin(string? partitionId, string? sequenceNumber, string? enqueuedTime)
    {
        var origin = new Dictionary<string, string>(StringComparer.Ordinal);
        if (partitionId is not null)
        {
            origin["partitionId"] = partitionId;
        }
        if (sequenceNumber is not null)
        {
            origin["sequenceNumber"] = sequenceNumber;
        }
        if (enqueuedTime is not null)
        {
            origin["enqueuedTimeUtc"] = enqueuedTime;
        }
        return origin.Count == 0 ? null : origin;
    }

    internal static string Describe(IngestResult result) => string.Create(CultureInfo.InvariantCulture,
        $"Received {result.Received}: {result.Accepted} accepted, {result.Duplicates} duplicates, {result.Rejected.Count} rejected{(result.DeadLetterBlob is null ? string.Empty : $" (dead letters: audit-deadletter/{result.DeadLetterBlob})")}.");
}
