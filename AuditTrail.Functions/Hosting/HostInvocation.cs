using System.Globalization;
using System.Text.Json;
using AuditTrail.Core.Ingestion;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// Reads the Functions host's invocation payload (<c>{"Data": {...}, "Metadata": {...}}</c>).
/// The host's encoding is irregular (strings JSON-encoded twice, arrays sent as JSON text), so
/// the batch is accepted in any of the shapes it may take; each event is then judged strictly.
/// </summary>
public static class HostInvocation
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

    /// <summary>A queue-triggered invocation: the message text (after the host's base64 decoding) and its try number.</summary>
    public sealed record QueueInvocation(string? MessageText, long DequeueCount, string? MessageId, string? Error);

    /// <summary>
    /// Reads a queue trigger's payload: <c>Data.{binding}</c> holds the message text, JSON-encoded
    /// once more as the host does for strings (an object, if the host already decoded JSON text, is
    /// taken as its JSON text); <c>Metadata.DequeueCount</c> counts the tries including this one.
    /// </summary>
    public static QueueInvocation ReadQueueMessage(JsonElement root, string bindingName)
    {
        if (TriggerValue(root, bindingName, out var value) is { } error)
        {
            return new QueueInvocation(null, 1, null, error);
        }
        string? text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object or JsonValueKind.Array => value.GetRawText(),
            _ => null,
        };
        // The extra encoding: text that is itself a JSON string literal is decoded once more.
        if (text is not null && LooksLike(text, '"'))
        {
            try
            {
                text = JsonSerializer.Deserialize<string>(text) ?? text;
            }
            catch (JsonException)
            {
                // Not an encoded string after all: keep the text as it came.
            }
        }
        var metadata = TryGetProperty(root, "Metadata", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        long dequeueCount = 1;
        string? messageId = null;
        if (metadata.ValueKind == JsonValueKind.Object)
        {
            if (TryGetProperty(metadata, "DequeueCount", out var dc))
            {
                var raw = dc.ValueKind == JsonValueKind.String ? dc.GetString() : dc.GetRawText();
                dequeueCount = long.TryParse(raw?.Trim('"'), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;
            }
            if (TryGetProperty(metadata, "Id", out var id))
            {
                messageId = Scalar(id).Trim('"');
            }
        }
        return text is null
            ? new QueueInvocation(null, dequeueCount, messageId, $"The '{bindingName}' binding holds no message text.")
            : new QueueInvocation(text, dequeueCount, messageId, null);
    }

    /// <summary>One item of a batch: a JSON value, or a message's body unescaped to UTF-8.</summary>
    private readonly record struct Item(JsonElement Element, ReadOnlyMemory<byte>? Utf8);

    /// <summary>
    /// Reads a queue trigger's invocation from the request body. A body that is not JSON gives an
    /// invocation without message text, whose <see cref="QueueInvocation.Error"/> says why.
    /// </summary>
    public static async Task<(QueueInvocation Invocation, byte[] Body)> ReadQueueInvocationAsync(HttpRequest request, string bindingName, CancellationToken cancellationToken)
    {
        var bytes = await RequestBody.ReadAsync(request, HttpLimits.MaxInvocationBodyBytes, cancellationToken);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return (ReadQueueMessage(doc.RootElement, bindingName), bytes);
        }
        catch (JsonException ex)
        {
            return (new QueueInvocation(null, 1, null, $"The invocation payload is not valid JSON: {ex.Message}"), bytes);
        }
    }

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
    /// The trigger binding's value in <c>Data</c>; null on success, else why there is none. A single
    /// binding under another name is still the trigger's.
    /// </summary>
    private static string? TriggerValue(JsonElement root, string bindingName, out JsonElement value)
    {
        value = default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "The invocation payload is not a JSON object.";
        }
        if (!TryGetProperty(root, "Data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            return "The invocation payload has no 'Data' object.";
        }
        if (TryGetProperty(data, bindingName, out value))
        {
            return null;
        }
        var properties = data.EnumerateObject().ToList();
        if (properties.Count != 1)
        {
            return $"The invocation payload's 'Data' has no '{bindingName}' binding.";
        }
        value = properties[0].Value;
        return null;
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

    private static bool LooksLike(string? text, char first) => text is not null && text.AsSpan().TrimStart().StartsWith(first.ToString(), StringComparison.Ordinal);

    private static bool TryGetProperty(JsonElement obj, string name, out JsonElement value)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                value = p.Value;
                return true;
            }
        }
        value = default;
        return false;
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

    private static string Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Number => e.GetRawText(),
        _ => e.GetRawText(),
    };

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

    internal static string InvocationId(HttpRequest request) =>
        request.Headers.TryGetValue("X-Azure-Functions-InvocationId", out var id) && !string.IsNullOrEmpty(id) ? id.ToString() : request.HttpContext.TraceIdentifier;

    internal static string Describe(IngestResult result) => string.Create(CultureInfo.InvariantCulture,
        $"Received {result.Received}: {result.Accepted} accepted, {result.Duplicates} duplicates, {result.Rejected.Count} rejected{(result.DeadLetterBlob is null ? string.Empty : $" (dead letters: audit-deadletter/{result.DeadLetterBlob})")}.");
}
