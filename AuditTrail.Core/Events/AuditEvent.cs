using System.Text.Json;

namespace AuditTrail.Core.Events;

/// <summary>
/// One recorded action. <see cref="Id"/> is the producer's idempotency key, unique within a
/// workspace; <see cref="Changes"/> holds before/after values so a change can be understood and
/// reverted; <see cref="Properties"/> is free-form detail. Both are kept as compact JSON text.
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
    string? Properties);

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

    public static void Write(Utf8JsonWriter writer, AuditEvent e)
    {
        writer.WriteStartObject();
        writer.WriteString("id", e.Id);
        writer.WriteString("workspaceId", e.WorkspaceId);
        writer.WriteString("type", e.Type);
        writer.WriteString("productArea", e.ProductArea);
        writer.WriteString("timestamp", Iso8601.Format(e.Timestamp, stackalloc char[Iso8601.FormattedLength]));
        writer.WriteStartObject("actor");
        writer.WriteString("type", e.Actor.Type);
        writer.WriteString("id", e.Actor.Id);
        WriteOptional(writer, "name", e.Actor.Name);
        WriteOptional(writer, "email", e.Actor.Email);
        writer.WriteEndObject();
        writer.WriteStartObject("resource");
        writer.WriteString("type", e.Resource.Type);
        writer.WriteString("id", e.Resource.Id);
        WriteOptional(writer, "name", e.Resource.Name);
        writer.WriteEndObject();
        if (e.Context is { } c)
        {
            writer.WriteStartObject("context");
            WriteOptional(writer, "ip", c.Ip);
            WriteOptional(writer, "userAgent", c.UserAgent);
            WriteOptional(writer, "requestId", c.RequestId);
            writer.WriteEndObject();
        }
        if (e.Changes is not null)
        {
            WriteRaw(writer, "changes", e.Changes);
        }
        if (e.Properties is not null)
        {
            WriteRaw(writer, "properties", e.Properties);
        }
        writer.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
