using System.Text.Json;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// One event as it arrived, before validation: either a JSON value (HTTP door) or text that
/// should hold JSON (an Event Hubs message body). Kept so a rejected event is dead-lettered
/// exactly as it came.
/// </summary>
public readonly record struct RawEvent
{
    private RawEvent(JsonElement? element, string? text, IReadOnlyDictionary<string, string>? origin)
    {
        Element = element;
        Text = text;
        Origin = origin;
    }

    public JsonElement? Element { get; }
    public string? Text { get; }

    /// <summary>Where the event came from (for example Event Hubs partition and sequence number), for dead letters.</summary>
    public IReadOnlyDictionary<string, string>? Origin { get; }

    public static RawEvent FromJson(JsonElement element, IReadOnlyDictionary<string, string>? origin = null) => new(element.Clone(), null, origin);

    public static RawEvent FromText(string text, IReadOnlyDictionary<string, string>? origin = null) => new(null, text, origin);

    public string RawText => Text ?? Element?.GetRawText() ?? string.Empty;
}
