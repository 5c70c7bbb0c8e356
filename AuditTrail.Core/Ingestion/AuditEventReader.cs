using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using AuditTrail.Core.Events;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// Turns one raw event into a validated <see cref="AuditEvent"/> or a specific rejection.
/// Strict: unknown or repeated fields, wrong types, control characters, oversize values and
/// timestamps without an offset are all rejected, each with its own code and the field named.
/// </summary>
public static partial class AuditEventReader
{

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex WorkspaceIdPattern();

    public static bool IsValidWorkspaceId(string? workspaceId) => workspaceId is not null && WorkspaceIdPattern().IsMatch(workspaceId);

    /// <summary>The workspace id rule, as every refusal states it.</summary>
    public const string WorkspaceIdRule = "A workspace id is 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.";

    /// <param name="raw">The event as it arrived.</param>
    /// <param name="index">Its position in the batch, for the rejection.</param>
    /// <param name="routeWorkspaceId">The workspace of the door (HTTP route), if any: fills a missing workspaceId and must match a present one.</param>
    /// <param name="now">The receiver's clock.</param>
    public static ReadResult Read(RawEvent raw, int index, string? routeWorkspaceId, DateTimeOffset now)
    {
        var text = raw.RawText;
        if (Encoding.UTF8.GetByteCount(text) > EventLimits.MaxEventBytes)
        {
            return Reject(index, RejectionCodes.EventTooLarge, $"The event is larger than {EventLimits.MaxEventBytes} bytes of UTF-8 JSON.");
        }

        JsonDocument? owned = null;
        try
        {
            JsonElement element;
            if (raw.Element is { } e)
            {
                element = e;
            }
            else
            {
                try
                {
                    owned = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
                }
                catch (JsonException ex)
                {
                    return Reject(index, RejectionCodes.InvalidJson, $"The event is not valid JSON: {ex.Message}");
                }
                element = owned.RootElement;
                // Some producers (and the host's string encoding) wrap the JSON in a JSON string once more.
                if (element.ValueKind == JsonValueKind.String)
                {
                    // An escaped lone surrogate cannot become a string; reading it threw out of the reader (a 500).
                    if (TryGetString(element) is not { } inner)
                    {
                        return Reject(index, RejectionCodes.InvalidString, "The event is a JSON string holding an invalid UTF-16 sequence (a lone surrogate).");
                    }
                    if (inner.TrimStart().StartsWith('{'))
                    {
                        return Read(RawEvent.FromText(inner, raw.Origin), index, routeWorkspaceId, now);
                    }
                }
            }
            try
            {
                return new Parser(index, routeWorkspaceId, now).Parse(element);
            }
            catch (InvalidOperationException)
            {
                // A property name with an invalid escape (a lone surrogate) cannot be read as a string.
                return Reject(index, RejectionCodes.InvalidString, "The event holds an invalid UTF-16 sequence (a lone surrogate) in a field name.");
            }
        }
        finally
        {
            owned?.Dispose();
        }
    }

    private static readonly FieldNames EventFields = new("id", "workspaceId", "type", "timestamp", "actor", "resource", "context", "changes", "properties");
    private static readonly FieldNames ActorFields = new("type", "id", "name", "email");
    private static readonly FieldNames ResourceFields = new("type", "id", "name");
    private static readonly FieldNames ContextFields = new("ip", "userAgent", "requestId");
    private static readonly FieldNames ChangeFields = new("field", "before", "after");

    /// <summary>The fields an object may hold, with their UTF-8 forms for matching without allocating.</summary>
    private sealed class FieldNames(params string[] names)
    {
        private readonly byte[][] _utf8 = names.Select(Encoding.UTF8.GetBytes).ToArray();

        public string[] Names { get; } = names;

        public int IndexOf(JsonProperty property)
        {
            for (var i = 0; i < _utf8.Length; i++)
            {
                if (property.NameEquals(_utf8[i]))
                {
                    return i;
                }
            }
            return -1;
        }
    }

    /// <summary>An object's allowed fields, each present at most once (an absent one is Undefined).</summary>
    private sealed class Slots(FieldNames names, JsonElement[] values)
    {
        public bool TryGetValue(string name, out JsonElement value)
        {
            var i = Array.IndexOf(names.Names, name);
            value = i >= 0 ? values[i] : default;
            return value.ValueKind != JsonValueKind.Undefined;
        }
    }

    private static ReadResult Reject(int index, string code, string reason, string? field = null, string? id = null, string? ws = null) =>
        new(null, new IngestRejection(index, code, reason, field, id, ws));

    private sealed class Parser(int index, string? routeWorkspaceId, DateTimeOffset now)
    {
        private string? _id;
        private string? _workspaceId;
        private IngestRejection? _rejection;

        public ReadResult Parse(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Reject(index, RejectionCodes.NotAnObject, $"An event must be a JSON object, not {Kind(root)}.");
            }
            // The id and workspace are read first so every later rejection can name them.
            if (root.TryGetProperty("id"u8, out var idElement) && idElement.ValueKind == JsonValueKind.String)
            {
                _id = TryGetString(idElement);
            }
            if (root.TryGetProperty("workspaceId"u8, out var wsElement) && wsElement.ValueKind == JsonValueKind.String)
            {
                _workspaceId = TryGetString(wsElement);
            }

            var fields = Fields(root, "", EventFields);
            if (fields is null)
            {
                return Fail();
            }

            var id = RequiredText(fields, "id", EventLimits.MaxIdLength);
            var type = RequiredText(fields, "type", EventLimits.MaxTypeLength);
            var workspaceId = WorkspaceId(fields);
            var timestamp = Timestamp(fields);
            var actor = Actor(fields);
            var resource = Resource(fields);
            var context = Context(fields);
            var changes = Changes(fields);
            var properties = Properties(fields);
            if (_rejection is not null)
            {
                return Fail();
            }

            var cataloged = EventCatalog.TryGet(type!, out var canonicalType, out var area);
            return new ReadResult(new AuditEvent(id!, workspaceId!, canonicalType, area, cataloged, timestamp!.Value, actor!, resource!, context, changes, properties), null);
        }

        private ReadResult Fail() => new(null, _rejection! with { EventId = _id, WorkspaceId = _workspaceId ?? routeWorkspaceId });

        private void Error(string code, string field, string reason) => _rejection ??= new IngestRejection(index, code, reason, field);

        private Slots? Fields(JsonElement obj, string path, FieldNames allowed)
        {
            var slots = new JsonElement[allowed.Names.Length];
            foreach (var p in obj.EnumerateObject())
            {
                // Names are matched as UTF-8 bytes, with no string made for them; field paths are
                // built only for an error: this loop runs for every property of every event.
                var slot = allowed.IndexOf(p);
                if (slot < 0)
                {
                    var name = path + p.Name;
                    Error(RejectionCodes.UnknownField, name, $"Unknown field '{Truncate(name)}'. Allowed here: {string.Join(", ", allowed.Names)}.");
                    return null;
                }
                if (slots[slot].ValueKind != JsonValueKind.Undefined)
                {
                    var name = path + p.Name;
                    Error(RejectionCodes.DuplicateField, name, $"Field '{name}' appears more than once.");
                    return null;
                }
                slots[slot] = p.Value;
            }
            return new Slots(allowed, slots);
        }

        private string? RequiredText(Slots fields, string name, int maxLength, string path = "")
        {
            var value = OptionalText(fields, name, maxLength, path);
            if (value is null && _rejection is null)
            {
                Error(RejectionCodes.MissingField, path + name, $"Field '{path + name}' is required.");
            }
            return value;
        }

        private string? OptionalText(Slots fields, string name, int maxLength, string path = "")
        {
            if (!fields.TryGetValue(name, out var element) || element.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (element.ValueKind != JsonValueKind.String)
            {
                Error(RejectionCodes.WrongType, path + name, $"Field '{path + name}' must be a string, not {Kind(element)}.");
                return null;
            }
            var value = TryGetString(element);
            if (value is null)
            {
                Error(RejectionCodes.InvalidString, path + name, $"Field '{path + name}' holds an invalid UTF-16 sequence (a lone surrogate).");
                return null;
            }
            if (value.Length == 0 || string.IsNullOrWhiteSpace(value))
            {
                Error(RejectionCodes.EmptyField, path + name, $"Field '{path + name}' must not be empty or blank.");
                return null;
            }
            if (value.Length > maxLength)
            {
                Error(RejectionCodes.TooLong, path + name, $"Field '{path + name}' is {value.Length} characters; the limit is {maxLength}.");
                return null;
            }
            // char.IsControl: U+0000-U+001F and U+007F-U+009F.
            if (value.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || value.AsSpan().ContainsAnyInRange('\u007f', '\u009f'))
            {
                Error(RejectionCodes.ControlCharacters, path + name, $"Field '{path + name}' contains control characters.");
                return null;
            }
            return value;
        }

        private string? WorkspaceId(Slots fields)
        {
            var value = OptionalText(fields, "workspaceId", EventLimits.MaxWorkspaceIdLength);
            if (_rejection is not null)
            {
                return null;
            }
            if (value is null)
            {
                if (routeWorkspaceId is null)
                {
                    Error(RejectionCodes.MissingField, "workspaceId", "Field 'workspaceId' is required.");
                }
                return routeWorkspaceId;
            }
            if (!IsValidWorkspaceId(value))
            {
                Error(RejectionCodes.InvalidWorkspaceId, "workspaceId", "Field 'workspaceId' is not a valid workspace id. " + WorkspaceIdRule);
                return null;
            }
            if (routeWorkspaceId is not null && !string.Equals(value, routeWorkspaceId, StringComparison.Ordinal))
            {
                Error(RejectionCodes.WorkspaceMismatch, "workspaceId", "Field 'workspaceId' names a different workspace than the request.");
                return null;
            }
            return value;
        }

        private DateTimeOffset? Timestamp(Slots fields)
        {
            var text = RequiredText(fields, "timestamp", 64);
            if (text is null)
            {
                return null;
            }
            if (!Iso8601.TryParseUtc(text, out var ts))
            {
                Error(RejectionCodes.InvalidTimestamp, "timestamp", "Field 'timestamp' must be an ISO 8601 date and time with 'Z' or a UTC offset, for example 2026-11-23T09:30:00Z.");
                return null;
            }
            if (ts > now + EventLimits.MaxFutureSkew)
            {
                Error(RejectionCodes.TimestampInFuture, "timestamp", $"Field 'timestamp' is more than {EventLimits.MaxFutureSkew.TotalMinutes} minutes in the future.");
                return null;
            }
            if (ts < now.AddDays(-EventLimits.RetentionDays))
            {
                Error(RejectionCodes.OutsideRetention, "timestamp", $"Field 'timestamp' is older than the {EventLimits.RetentionDays}-day retention period.");
                return null;
            }
            return ts;
        }

        private AuditActor? Actor(Slots fields)
        {
            var obj = RequiredObject(fields, "actor");
            if (obj is null)
            {
                return null;
            }
            var f = Fields(obj.Value, "actor.", ActorFields);
            if (f is null)
            {
                return null;
            }
            var type = RequiredText(f, "type", 16, "actor.");
            var id = RequiredText(f, "id", EventLimits.MaxIdLength, "actor.");
            var name = OptionalText(f, "name", EventLimits.MaxTextLength, "actor.");
            var email = OptionalText(f, "email", EventLimits.MaxTextLength, "actor.");
            if (type is not null && !ActorTypes.All.Contains(type))
            {
                Error(RejectionCodes.InvalidActorType, "actor.type", $"Field 'actor.type' must be one of {string.Join(", ", ActorTypes.All)}.");
            }
            return _rejection is null ? new AuditActor(type!, id!, name, email) : null;
        }

        private AuditResource? Resource(Slots fields)
        {
            var obj = RequiredObject(fields, "resource");
            if (obj is null)
            {
                return null;
            }
            var f = Fields(obj.Value, "resource.", ResourceFields);
            if (f is null)
            {
                return null;
            }
            var type = RequiredText(f, "type", EventLimits.MaxTypeLength, "resource.");
            var id = RequiredText(f, "id", EventLimits.MaxIdLength, "resource.");
            var name = OptionalText(f, "name", EventLimits.MaxTextLength, "resource.");
            return _rejection is null ? new AuditResource(type!, id!, name) : null;
        }

        private AuditContext? Context(Slots fields)
        {
            if (!fields.TryGetValue("context", out var element) || element.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (element.ValueKind != JsonValueKind.Object)
            {
                Error(RejectionCodes.WrongType, "context", $"Field 'context' must be an object, not {Kind(element)}.");
                return null;
            }
            var f = Fields(element, "context.", ContextFields);
            if (f is null)
            {
                return null;
            }
            var ip = OptionalText(f, "ip", 64, "context.");
            var userAgent = OptionalText(f, "userAgent", EventLimits.MaxUserAgentLength, "context.");
            var requestId = OptionalText(f, "requestId", EventLimits.MaxIdLength, "context.");
            if (ip is not null && !IPAddress.TryParse(ip, out _))
            {
                Error(RejectionCodes.InvalidIp, "context.ip", "Field 'context.ip' is not an IPv4 or IPv6 address.");
            }
            if (_rejection is not null || (ip is null && userAgent is null && requestId is null))
            {
                return null;
            }
            return new AuditContext(ip, userAgent, requestId);
        }

        private string? Changes(Slots fields)
        {
            if (!fields.TryGetValue("changes", out var element) || element.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(RejectionCodes.InvalidChanges, "changes", "Field 'changes' must be an array of {\"field\", \"before\", \"after\"} objects.");
                return null;
            }
            var count = 0;
            foreach (var change in element.EnumerateArray())
            {
                var path = $"changes[{count}].";
                if (++count > EventLimits.MaxChanges)
                {
                    Error(RejectionCodes.InvalidChanges, "changes", $"Field 'changes' holds more than {EventLimits.MaxChanges} entries.");
                    return null;
                }
                if (change.ValueKind != JsonValueKind.Object)
                {
                    Error(RejectionCodes.InvalidChanges, path.TrimEnd('.'), $"Each entry of 'changes' must be an object, not {Kind(change)}.");
                    return null;
                }
                var f = Fields(change, path, ChangeFields);
                if (f is null || RequiredText(f, "field", EventLimits.MaxTextLength, path) is null)
                {
                    return null;
                }
            }
            return Compact(element, "changes");
        }

        private string? Properties(Slots fields)
        {
            if (!fields.TryGetValue("properties", out var element) || element.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (element.ValueKind != JsonValueKind.Object)
            {
                Error(RejectionCodes.WrongType, "properties", $"Field 'properties' must be an object, not {Kind(element)}.");
                return null;
            }
            return Compact(element, "properties");
        }

        private JsonElement? RequiredObject(Slots fields, string name)
        {
            if (!fields.TryGetValue(name, out var element) || element.ValueKind == JsonValueKind.Null)
            {
                Error(RejectionCodes.MissingField, name, $"Field '{name}' is required.");
                return null;
            }
            if (element.ValueKind != JsonValueKind.Object)
            {
                Error(RejectionCodes.WrongType, name, $"Field '{name}' must be an object, not {Kind(element)}.");
                return null;
            }
            return element;
        }

        private string? Compact(JsonElement element, string field)
        {
            try
            {
                // One buffer and writer per thread: every event with changes or properties comes through here.
                var buffer = t_compactBuffer ??= new System.Buffers.ArrayBufferWriter<byte>(1024);
                var writer = t_compactWriter ??= new Utf8JsonWriter(buffer, AuditTrail.Core.JsonDefaults.Relaxed);
                buffer.ResetWrittenCount();
                writer.Reset(buffer);
                element.WriteTo(writer);
                writer.Flush();
                var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
                if (buffer.Capacity > 256 * 1024)
                {
                    t_compactBuffer = null;
                    t_compactWriter = null;
                }
                // Stored as one string property: Table Storage takes at most 64 KiB (32K UTF-16 characters).
                // Escaping (an emoji becomes 12 characters) can push a 32 KiB event past that.
                if (text.Length > EventLimits.MaxStoredJsonChars)
                {
                    Error(RejectionCodes.EventTooLarge, field, $"Field '{field}' takes {text.Length} characters once stored; the limit is {EventLimits.MaxStoredJsonChars}.");
                    return null;
                }
                return text;
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                Error(RejectionCodes.InvalidString, "properties", "A nested value holds an invalid UTF-16 sequence (a lone surrogate).");
                return null;
            }
        }
    }

    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? t_compactBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_compactWriter;

    private static string? TryGetString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}

/// <summary>Exactly one of <see cref="Event"/> and <see cref="Rejection"/> is set.</summary>
public readonly record struct ReadResult(AuditEvent? Event, IngestRejection? Rejection);
