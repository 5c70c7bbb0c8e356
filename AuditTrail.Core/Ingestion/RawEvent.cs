using System.Text.Json;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// One event as it arrived, before validation: either a JSON value (HTTP door) or text that
/// should hold JSON (an Event Hubs message body). Kept so a rejected event is dead-lettered
/// exactly as it came.
/// </summary>
public readonly record struct RawEvent
{
    private RawEvent(JsonElement? element, string? text, IReadOnlyDictionary<string, string>? origin, ReadOnlyMemory<byte>? utf8 = null)
    {
        Element = element;
        Text = text;
        Origin = origin;
        Utf8 = utf8;
    }

    public JsonElement? Element { get; }
    public string? Text { get; }

    /// <summary>The message body as UTF-8 bytes (an Event Hubs message taken from the invocation's bytes, never copied to UTF-16).</summary>
    public ReadOnlyMemory<byte>? Utf8 { get; }

    /// <summary>Where the event came from (for example Event Hubs partition and sequence number), for dead letters.</summary>
    public IReadOnlyDictionary<string, string>? Origin { get; }

    public static RawEvent FromJson(JsonElement element, IReadOnlyDictionary<string, string>? origin = null) => new(element.Clone(), null, origin);

    public static RawEvent FromText(string text, IReadOnlyDictionary<string, string>? origin = null) => new(null, text, origin);

    public static RawEvent FromUtf8(ReadOnlyMemory<byte> utf8, IReadOnlyDictionary<string, string>? origin = null) => new(null, null, origin, utf8);

    /// <summary>The raw input as UTF-8, for hashing: its bytes as they came when it has them, else its text encoded.</summary>
    public void AppendTo(System.Security.Cryptography.IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        if (Utf8 is { } bytes)
        {
            hash.AppendData(bytes.Span);
        }
        else
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(RawText));
        }
    }

    /// <summary>The event as text, for dead letters (decoded only for the events that need it).</summary>
    public string RawText => Text ?? (Utf8 is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes.Span) : null) ?? Element?.GetRawText() ?? string.Empty;
}
