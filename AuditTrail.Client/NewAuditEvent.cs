using System.Text.Json;
using System.Text.Json.Serialization;
using AuditTrail.Core.Events;

namespace AuditTrail.Client;

/// <summary>Who acted: a user, an access token or the system itself.</summary>
public sealed record ActorRef(string Type, string Id, string? Name = null, string? Email = null)
{
    public static ActorRef User(string id, string? name = null, string? email = null) => new(ActorTypes.User, id, name, email);

    public static ActorRef Token(string id, string? name = null) => new(ActorTypes.Token, id, name);

    public static ActorRef System(string id, string? name = null) => new(ActorTypes.System, id, name);
}

/// <summary>What was acted on.</summary>
public sealed record ResourceRef(string Type, string Id, string? Name = null);

/// <summary>Where the action came from.</summary>
public sealed record ContextRef(string? Ip = null, string? UserAgent = null, string? RequestId = null);

/// <summary>One changed field with its values before and after (any JSON).</summary>
public sealed record FieldChange(string Field, JsonElement? Before, JsonElement? After);

/// <summary>
/// One audit event as a producer sends it (schemas/audit-event.json). <see cref="Id"/> is the
/// idempotency key: sending the same id again is a duplicate on the trail, never a second event, so
/// keep it when you retry. Make one with <see cref="Create"/> and the <c>With…</c> methods.
/// </summary>
public sealed record NewAuditEvent(
    string Id,
    string WorkspaceId,
    string Type,
    DateTimeOffset Timestamp,
    ActorRef Actor,
    ResourceRef Resource,
    ContextRef? Context = null,
    IReadOnlyList<FieldChange>? Changes = null,
    IReadOnlyDictionary<string, JsonElement>? Properties = null)
{
    /// <summary>
    /// The common case in one line. <paramref name="type"/> must be a catalog type (matched
    /// case-insensitively and sent in the catalog's spelling), unless <paramref name="allowUncataloged"/>;
    /// the id defaults to a new GUID-based one and the timestamp to now.
    /// </summary>
    public static NewAuditEvent Create(string workspaceId, string type, ActorRef actor, ResourceRef resource,
        string? id = null, DateTimeOffset? timestamp = null, bool allowUncataloged = false, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (!EventCatalog.TryGet(type, out var canonical, out _) && !allowUncataloged)
        {
            throw new ArgumentException($"'{type}' is not in the event catalog (GET /api/event-types); pass allowUncataloged: true to send it anyway.", nameof(type));
        }
        return new NewAuditEvent(id ?? "evt_" + Guid.NewGuid().ToString("N"), workspaceId, canonical,
            timestamp ?? (time ?? TimeProvider.System).GetUtcNow(), actor, resource);
    }

    /// <summary>Adds one changed field; <paramref name="before"/> and <paramref name="after"/> are serialized as JSON.</summary>
    public NewAuditEvent WithChange<T>(string field, T before, T after) => this with
    {
        Changes = [.. Changes ?? [], new FieldChange(field, ToElement(before), ToElement(after))],
    };

    /// <summary>Adds one free-form property.</summary>
    public NewAuditEvent WithProperty<T>(string name, T value)
    {
        var properties = new Dictionary<string, JsonElement>(Properties ?? new Dictionary<string, JsonElement>(), StringComparer.Ordinal)
        {
            [name] = ToElement(value),
        };
        return this with { Properties = properties };
    }

    public NewAuditEvent WithContext(string? ip = null, string? userAgent = null, string? requestId = null) => this with { Context = new ContextRef(ip, userAgent, requestId) };

    /// <summary>The event as the trail reads it: UTF-8 JSON, written the same way on every try.</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(Wire.From(this), ClientJsonContext.Default.WireEvent);

    private static JsonElement ToElement<T>(T value) => JsonSerializer.SerializeToElement(value, ClientJsonContext.Reflection.GetTypeInfo(typeof(T)));
}

/// <summary>The JSON shape sent; the timestamp in the trail's one format.</summary>
internal sealed record WireEvent(
    string Id, string WorkspaceId, string Type, string Timestamp, ActorRef Actor, ResourceRef Resource,
    ContextRef? Context, IReadOnlyList<FieldChange>? Changes, IReadOnlyDictionary<string, JsonElement>? Properties);

internal static class Wire
{
    public static WireEvent From(NewAuditEvent e) =>
        new(e.Id, e.WorkspaceId, e.Type, Iso8601.Format(e.Timestamp), e.Actor, e.Resource, e.Context, e.Changes, e.Properties);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WireEvent))]
[JsonSerializable(typeof(AuditEventPage))]
[JsonSerializable(typeof(IngestAnswer))]
[JsonSerializable(typeof(ExportStatus))]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class ClientJsonContext : JsonSerializerContext
{
    /// <summary>For the caller's own change and property values, whose types the client cannot know ahead.</summary>
    public static JsonSerializerOptions Reflection { get; } = new(JsonSerializerDefaults.Web) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };
}
