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
    /// <summary>Outcome of reading a batch: the events, or why the payload could not be split into events.</summary>
    public sealed record Batch(IReadOnlyList<RawEvent> Events, string? Error);

    public static Batch ReadEventBatch(JsonElement root, string bindingName)
    {
        if (TriggerValue(root, bindingName, out var value) is { } error)
        {
            return new Batch([], error);
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
            events.Add(item.ValueKind == JsonValueKind.String ? RawEvent.FromText(item.GetString()!, origin) : RawEvent.FromJson(item, origin));
        }
        return new Batch(events, null);
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
    /// </summary>
    private static IEnumerable<JsonElement> Items(JsonElement value)
    {
        var batch = Unwrap(value);
        var messages = batch.ValueKind == JsonValueKind.Array ? batch.EnumerateArray().ToList() : [value];
        foreach (var message in messages)
        {
            var body = message.ValueKind == JsonValueKind.String && LooksLike(message.GetString(), '[') ? Unwrap(message) : message;
            if (body.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in body.EnumerateArray())
                {
                    yield return item;
                }
            }
            else
            {
                // One event, or text the reader will judge (and dead-letter if need be).
                yield return message;
            }
        }
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

    /// <summary>Decodes JSON text that holds an array or another JSON string, a few levels deep.</summary>
    private static JsonElement Unwrap(JsonElement value)
    {
        for (var depth = 0; depth < 3 && value.ValueKind == JsonValueKind.String; depth++)
        {
            var text = value.GetString()!;
            if (!LooksLike(text, '[') && !LooksLike(text, '"'))
            {
                break;
            }
            try
            {
                using var doc = JsonDocument.Parse(text);
                value = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                break;
            }
        }
        return value;
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
