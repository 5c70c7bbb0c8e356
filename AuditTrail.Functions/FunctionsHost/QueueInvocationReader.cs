using System.Globalization;
using System.Text.Json;
using AuditTrail.Functions.Hosting;
using static AuditTrail.Functions.FunctionsHost.InvocationPayload;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>Reads the Functions host's queue-trigger invocation: the message text, its try number and id.</summary>
public static class QueueInvocationReader
{
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
}
