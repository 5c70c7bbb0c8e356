using System.Text.Json;

namespace AuditTrail.Core.Events;

/// <summary>
/// One recorded action. <see cref="Id"/> is the producer's idempotency key, unique within a
/// workspace; <see cref="Changes"/> holds before/after values so a change can be understood and
/// reverted; <see cref="Properties"/> is free-form detail. Both are kept as compact JSON text.
/// <see cref="Source"/> is set only on an event read back from storage (<see cref="EventSources"/>):
/// it is never part of what a producer sends, nor of the content hash.
/// </summary>
public sealed record AuditEvent(
    string Id,
    string WorkspaceId,
    string Type,
    string ProductArea,
    bool Cataloged,
    DateTimeOffset Timestamp,
    AuditActor Actor,
    AuditResource Resource,
    AuditContext? Context,
    string? Changes,
    string? Properties,
    string? Source = null);

public sealed record AuditActor(string Type, string Id, string? Name, string? Email);

public sealed record AuditResource(string Type, string Id, string? Name);

public sealed record AuditContext(string? Ip, string? UserAgent, string? RequestId);

public static class ActorTypes
{
    public const string User = "user";
    public const string Token = "token";
    public const string System = "system";

    public static IReadOnlyList<string> All { get; } = [User, Token, System];
}

/// <summary>Writes an event in one fixed field order: the canonical form that content hashes are taken over.</summary>
public static class AuditEventJson
{
    /// <summary>Writes a property whose value is JSON text already validated and compacted by the reader.</summary>
    public static void WriteRaw(Utf8JsonWriter writer, string name, string json)
    {
        writer.WritePropertyName(name);
        writer.WriteRawValue(json, skipInputValidation: true);
    }

    /// <inheritdoc cref="WriteRaw(Utf8JsonWriter, string, string)"/>
    public static void WriteRaw(Utf8JsonWriter writer, JsonEncodedText name, string json)
    {
        writer.WritePropertyName(name);
        writer.WriteRawValue(json, skipInputValidation: true);
    }

    public static void Write(Utf8JsonWriter writer, AuditEvent e) => Write(writer, e, e.Type.AsSpan(), e.ProductArea, e.Source);

    /// <summary>
    /// The form content hashes are taken over: the type in upper case and no product area, so a
    /// catalog change (of spelling or area) between two deliveries cannot make a replay a conflict.
    /// </summary>
    public static void WriteCanonical(Utf8JsonWriter writer, AuditEvent e)
    {
        Span<char> upper = e.Type.Length <= 256 ? stackalloc char[e.Type.Length] : new char[e.Type.Length];
        e.Type.AsSpan().ToUpperInvariant(upper);
        Write(writer, e, upper, string.Empty, null);
    }

    private static void Write(Utf8JsonWriter writer, AuditEvent e, ReadOnlySpan<char> type, string productArea, string? source)
    {
        // Names are encoded once, not for every event: this runs per event on ingest and on every query page.
        writer.WriteStartObject();
        writer.WriteString(Names.Id, e.Id);
        writer.WriteString(Names.WorkspaceId, e.WorkspaceId);
        writer.WriteString(Names.Type, type);
        writer.WriteString(Names.ProductArea, productArea);
        writer.WriteString(Names.Timestamp, Iso8601.Format(e.Timestamp, stackalloc char[Iso8601.FormattedLength]));
        writer.WriteStartObject(Names.Actor);
        writer.WriteString(Names.Type, e.Actor.Type);
        writer.WriteString(Names.Id, e.Actor.Id);
        WriteOptional(writer, Names.Name, e.Actor.Name);
        WriteOptional(writer, Names.Email, e.Actor.Email);
        writer.WriteEndObject();
        writer.WriteStartObject(Names.Resource);
        writer.WriteString(Names.Type, e.Resource.Type);
        writer.WriteString(Names.Id, e.Resource.Id);
        WriteOptional(writer, Names.Name, e.Resource.Name);
        writer.WriteEndObject();
        if (e.Context is { } c)
        {
            writer.WriteStartObject(Names.Context);
            WriteOptional(writer, Names.Ip, c.Ip);
            WriteOptional(writer, Names.UserAgent, c.UserAgent);
            WriteOptional(writer, Names.RequestId, c.RequestId);
            writer.WriteEndObject();
        }
        if (e.Changes is not null)
        {
            WriteRaw(writer, Names.Changes, e.Changes);
        }
        if (e.Properties is not null)
        {
            WriteRaw(writer, Names.Properties, e.Properties);
        }
        // Last, so the fields every earlier reader knew keep their places.
        WriteOptional(writer, Names.Source, source);
        writer.WriteEndObject();
    }

    private static class Names
    {
        public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
        public static readonly JsonEncodedText WorkspaceId = JsonEncodedText.Encode("workspaceId");
        public static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
        public static readonly JsonEncodedText ProductArea = JsonEncodedText.Encode("productArea");
        public static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
        public static readonly JsonEncodedText Actor = JsonEncodedText.Encode("actor");
        public static readonly JsonEncodedText Resource = JsonEncodedText.Encode("resource");
        public static readonly JsonEncodedText Context = JsonEncodedText.Encode("context");
        public static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
        public static readonly JsonEncodedText Email = JsonEncodedText.Encode("email");
        public static readonly JsonEncodedText Ip = JsonEncodedText.Encode("ip");
        public static readonly JsonEncodedText UserAgent = JsonEncodedText.Encode("userAgent");
        public static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("requestId");
        public static readonly JsonEncodedText Changes = JsonEncodedText.Encode("changes");
        public static readonly JsonEncodedText Properties = JsonEncodedText.Encode("properties");
        public static readonly JsonEncodedText Source = JsonEncodedText.Encode("source");
    }

    private static void WriteOptional(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
