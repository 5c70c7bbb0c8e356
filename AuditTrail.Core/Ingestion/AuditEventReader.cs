using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Events;

namespace AuditTrail.Core.Ingestion;

/// <summary>
/// Turns one raw event into a validated <see cref="AuditEvent"/> or a specific rejection.
/// Strict: unknown or repeated fields, wrong types, control characters, oversize values and
/// timestamps without an offset are all rejected, each with its own code and the field named.
/// </summary>
/// <remarks>
/// This is the ingest hot path, so it reads the event's UTF-8 once with a
/// <see cref="Utf8JsonReader"/> instead of building a <see cref="JsonDocument"/> and walking it.
/// It still works in two steps, so which rejection an event gets does not depend on the order of
/// its fields: the whole document is read first (any syntax error, anywhere, makes it
/// <c>invalid_json</c>), collecting each allowed field; then the fields are checked in one fixed
/// order and the first problem wins.
/// </remarks>
public static class AuditEventReader
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    // An element was parsed (and its depth limited) by whoever made it; reading it again must not
    // refuse what that parse accepted.
    private static readonly JsonReaderOptions ParsedElementOptions = new() { MaxDepth = CompactJson.MaxDepth };

    // Throws on a lone surrogate rather than writing U+FFFD: the event would not be what was sent.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <param name="raw">The event as it arrived.</param>
    /// <param name="index">Its position in the batch, for the rejection.</param>
    /// <param name="routeWorkspaceId">The workspace of the door (HTTP route), if any: fills a missing workspaceId and must match a present one.</param>
    /// <param name="now">The receiver's clock.</param>
    public static ReadResult Read(RawEvent raw, int index, string? routeWorkspaceId, DateTimeOffset now)
    {
        if (raw.Element is { } element)
        {
            // The HTTP door has parsed the body already: the element's own UTF-8 is read as it is.
            return ReadUtf8(JsonMarshal.GetRawUtf8Value(element), ParsedElementOptions, unwrapString: false, raw, index, routeWorkspaceId, now);
        }
        if (raw.Utf8 is { } utf8)
        {
            // A message body taken from the invocation's bytes: read as it is, once. Invalid UTF-8
            // is refused by the JSON reader itself.
            return ReadUtf8(utf8.Span, ReaderOptions, unwrapString: true, raw, index, routeWorkspaceId, now);
        }
        var text = raw.Text ?? string.Empty;
        // Every UTF-16 char is at most 3 UTF-8 bytes: a text that long is too large without counting.
        if (text.Length > EventLimits.MaxEventBytes)
        {
            return TooLarge(index);
        }
        var rented = ArrayPool<byte>.Shared.Rent(StrictUtf8.GetMaxByteCount(text.Length));
        try
        {
            int length;
            try
            {
                length = StrictUtf8.GetBytes(text, rented);
            }
            catch (EncoderFallbackException)
            {
                return Reject(index, RejectionCodes.InvalidString, "The event holds an invalid UTF-16 sequence (a lone surrogate).");
            }
            return ReadUtf8(rented.AsSpan(0, length), ReaderOptions, unwrapString: true, raw, index, routeWorkspaceId, now);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static ReadResult TooLarge(int index) =>
        Reject(index, RejectionCodes.EventTooLarge, $"The event is larger than {EventLimits.MaxEventBytes} bytes of UTF-8 JSON.");

    private static ReadResult ReadUtf8(ReadOnlySpan<byte> json, JsonReaderOptions options, bool unwrapString, RawEvent raw, int index, string? routeWorkspaceId, DateTimeOffset now)
    {
        if (json.Length > EventLimits.MaxEventBytes)
        {
            return TooLarge(index);
        }
        var parser = new Parser(json, options, index, routeWorkspaceId, now);
        Value root;
        try
        {
            var reader = new Utf8JsonReader(json, options);
            reader.Read();
            root = parser.Collect(ref reader, EventFields, path: "");
            // Anything after the value is a syntax error, which this read reports.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            return Reject(index, RejectionCodes.InvalidJson, $"The event is not valid JSON: {ex.Message}");
        }

        // Some producers (and the host's string encoding) wrap the JSON in a JSON string once more.
        if (unwrapString && root.Token == JsonTokenType.String)
        {
            if (root.Text is not { } inner)
            {
                return Reject(index, RejectionCodes.InvalidString, "The event is a JSON string holding an invalid UTF-16 sequence (a lone surrogate).");
            }
            if (inner.TrimStart().StartsWith('{'))
            {
                return Read(RawEvent.FromText(inner, raw.Origin), index, routeWorkspaceId, now);
            }
        }
        return parser.Parse(root);
    }

    /// <summary>What a field holds: a string, an object of its own allowed fields, or raw JSON kept as a slice.</summary>
    private enum Kind
    {
        Text,
        Object,
        RawJson,
    }

    /// <summary>The fields an object may hold, with their UTF-8 forms for matching without allocating.</summary>
    private sealed class FieldNames
    {
        private readonly byte[][] _utf8;

        public FieldNames(params (string Name, Kind Kind, FieldNames? Nested)[] fields)
        {
            Names = fields.Select(f => f.Name).ToArray();
            Kinds = fields.Select(f => f.Kind).ToArray();
            Nested = fields.Select(f => f.Nested).ToArray();
            Prefixes = Names.Select(n => n + ".").ToArray();
            _utf8 = Names.Select(Encoding.UTF8.GetBytes).ToArray();
        }

        /// <summary>Each field's name as the start of its nested fields' paths ("actor."), made once.</summary>
        public string[] Prefixes { get; }

        public string[] Names { get; }
        public Kind[] Kinds { get; }
        public FieldNames?[] Nested { get; }

        /// <summary>The slot of the property name under the reader, or -1.</summary>
        public int IndexOf(ref Utf8JsonReader reader, string? unescapedName)
        {
            if (unescapedName is not null)
            {
                return Array.IndexOf(Names, unescapedName);
            }
            var name = reader.ValueSpan;
            for (var i = 0; i < _utf8.Length; i++)
            {
                if (name.SequenceEqual(_utf8[i]))
                {
                    return i;
                }
            }
            return -1;
        }
    }

    private static FieldNames Texts(params string[] names) => new(names.Select(n => (n, Kind.Text, (FieldNames?)null)).ToArray());

    private static readonly FieldNames ActorFields = Texts("type", "id", "name", "email");
    private static readonly FieldNames ResourceFields = Texts("type", "id", "name");
    private static readonly FieldNames ContextFields = Texts("ip", "userAgent", "requestId");
    private static readonly FieldNames ChangeFields = new(("field", Kind.Text, null), ("before", Kind.RawJson, null), ("after", Kind.RawJson, null));
    // Slots, in the order of each FieldNames' fields: fields are looked up by position, not by name.
    private const int TypeSlot = 0, IdSlot = 1, NameSlot = 2, EmailSlot = 3; // actor; resource has the first three
    private const int IpSlot = 0, UserAgentSlot = 1, RequestIdSlot = 2; // context
    private const int FieldSlot = 0; // a change
    private const int EventIdSlot = 0, WorkspaceIdSlot = 1, EventTypeSlot = 2, TimestampSlot = 3, ActorSlot = 4, ResourceSlot = 5, ContextSlot = 6, ChangesSlot = 7, PropertiesSlot = 8;

    private static readonly string[] ChangePaths = Enumerable.Range(0, EventLimits.MaxChanges).Select(i => $"changes[{i}].").ToArray();

    private static readonly FieldNames EventFields = new(
        ("id", Kind.Text, null),
        ("workspaceId", Kind.Text, null),
        ("type", Kind.Text, null),
        ("timestamp", Kind.Text, null),
        ("actor", Kind.Object, ActorFields),
        ("resource", Kind.Object, ResourceFields),
        ("context", Kind.Object, ContextFields),
        ("changes", Kind.RawJson, null),
        ("properties", Kind.RawJson, null));

    /// <summary>
    /// One collected JSON value. <see cref="JsonTokenType.None"/> is an absent field. A string's
    /// <see cref="Text"/> is null when it cannot be a .NET string (a lone surrogate escape).
    /// </summary>
    private readonly record struct Value(JsonTokenType Token, string? Text = null, Slots? Fields = null, int Start = 0, int Length = 0);

    /// <summary>An object's allowed fields, each present at most once, and the first problem with the object itself.</summary>
    private sealed class Slots(FieldNames names)
    {
        public Value[] Values { get; } = new Value[names.Names.Length];

        public IngestRejection? Problem { get; set; }

        public string Name(int slot) => names.Names[slot];

        public bool TryGetValue(int slot, out Value value)
        {
            value = Values[slot];
            return value.Token != JsonTokenType.None;
        }
    }

    private static ReadResult Reject(int index, string code, string reason, string? field = null, string? id = null, string? ws = null) =>
        new(null, new IngestRejection(index, code, reason, field, id, ws));

    /// <summary>A ref struct, so it can hold the event's UTF-8 (read again for changes and properties) without a copy.</summary>
    private ref struct Parser
    {
        private readonly ReadOnlySpan<byte> _json;
        private readonly JsonReaderOptions _options;
        private readonly int _index;
        private readonly string? _routeWorkspaceId;
        private readonly DateTimeOffset _now;
        private IngestRejection? _rejection;

        public Parser(ReadOnlySpan<byte> json, JsonReaderOptions options, int index, string? routeWorkspaceId, DateTimeOffset now)
        {
            _json = json;
            _options = options;
            _index = index;
            _routeWorkspaceId = routeWorkspaceId;
            _now = now;
        }

        /// <summary>
        /// Reads the value under the reader to its end. An object with a <paramref name="shape"/> is
        /// collected into its fields; any other object or array is only skipped (and so checked).
        /// </summary>
        public readonly Value Collect(ref Utf8JsonReader reader, FieldNames? shape, string path)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    return new Value(JsonTokenType.String, TryGetString(ref reader));
                case JsonTokenType.StartObject when shape is not null:
                    return new Value(JsonTokenType.StartObject, Fields: CollectObject(ref reader, shape, path));
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    var token = reader.TokenType;
                    reader.Skip();
                    return new Value(token);
                default:
                    return new Value(reader.TokenType);
            }
        }

        private readonly Slots CollectObject(ref Utf8JsonReader reader, FieldNames allowed, string path)
        {
            var slots = new Slots(allowed);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                // Names are matched as UTF-8 bytes, with no string made for them, unless escaped;
                // field paths are built only for an error: this runs for every field of every event.
                string? escapedName = null;
                var nameIsValid = true;
                if (reader.ValueIsEscaped)
                {
                    escapedName = TryGetString(ref reader);
                    nameIsValid = escapedName is not null;
                }
                var slot = nameIsValid ? allowed.IndexOf(ref reader, escapedName) : -1;
                if (slot < 0)
                {
                    slots.Problem ??= nameIsValid
                        ? Unknown(path + (escapedName ?? TryGetString(ref reader)), allowed)
                        : new IngestRejection(_index, RejectionCodes.InvalidString, "The event holds an invalid UTF-16 sequence (a lone surrogate) in a field name.", null);
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                if (slots.Values[slot].Token != JsonTokenType.None)
                {
                    // The later value is kept, as JsonDocument's lookups do: a rejection names the last id given.
                    slots.Problem ??= new IngestRejection(_index, RejectionCodes.DuplicateField, $"Field '{path + allowed.Names[slot]}' appears more than once.", path + allowed.Names[slot]);
                }
                reader.Read();
                slots.Values[slot] = allowed.Kinds[slot] switch
                {
                    Kind.Object => Collect(ref reader, allowed.Nested[slot], path.Length == 0 ? allowed.Prefixes[slot] : path + allowed.Prefixes[slot]),
                    Kind.RawJson => Slice(ref reader),
                    _ => Collect(ref reader, null, path),
                };
            }
            return slots;
        }

        private readonly IngestRejection Unknown(string name, FieldNames allowed) =>
            new(_index, RejectionCodes.UnknownField, $"Unknown field '{Truncate(name)}'. Allowed here: {string.Join(", ", allowed.Names)}.", name);

        private static Value Slice(ref Utf8JsonReader reader)
        {
            var token = reader.TokenType;
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            return new Value(token, Start: start, Length: (int)reader.BytesConsumed - start);
        }

        public ReadResult Parse(Value root)
        {
            if (root.Token != JsonTokenType.StartObject)
            {
                return Reject(_index, RejectionCodes.NotAnObject, $"An event must be a JSON object, not {KindOf(root.Token)}.");
            }
            var fields = root.Fields!;
            if (fields.Problem is not null)
            {
                _rejection = fields.Problem;
                return Fail(fields);
            }

            var id = RequiredText(fields, EventIdSlot, EventLimits.MaxIdLength);
            var type = RequiredText(fields, EventTypeSlot, EventLimits.MaxTypeLength);
            var workspaceId = WorkspaceId(fields);
            var timestamp = Timestamp(fields);
            var actor = Actor(fields);
            var resource = Resource(fields);
            var context = Context(fields);
            var changes = Changes(fields);
            var properties = Properties(fields);
            if (_rejection is not null)
            {
                return Fail(fields);
            }

            var cataloged = EventCatalog.TryGet(type!, out var canonicalType, out var area);
            return new ReadResult(new AuditEvent(id!, workspaceId!, canonicalType, area, cataloged, timestamp!.Value, actor!, resource!, context, changes, properties), null);
        }

        /// <summary>The rejection, naming the event's id and workspace when they can be read, whatever else is wrong.</summary>
        private readonly ReadResult Fail(Slots fields) =>
            new(null, _rejection! with { EventId = Named(fields, EventIdSlot), WorkspaceId = Named(fields, WorkspaceIdSlot) ?? _routeWorkspaceId });

        private static string? Named(Slots fields, int slot) =>
            fields.TryGetValue(slot, out var v) && v.Token == JsonTokenType.String ? v.Text : null;

        private void Error(string code, string field, string reason) => _rejection ??= new IngestRejection(_index, code, reason, field);

        private string? RequiredText(Slots fields, int slot, int maxLength, string path = "")
        {
            var value = OptionalText(fields, slot, maxLength, path);
            var name = fields.Name(slot);
            if (value is null && _rejection is null)
            {
                Error(RejectionCodes.MissingField, path + name, $"Field '{path + name}' is required.");
            }
            return value;
        }

        private string? OptionalText(Slots fields, int slot, int maxLength, string path = "")
        {
            var name = fields.Name(slot);
            if (!fields.TryGetValue(slot, out var element) || element.Token == JsonTokenType.Null)
            {
                return null;
            }
            if (element.Token != JsonTokenType.String)
            {
                Error(RejectionCodes.WrongType, path + name, $"Field '{path + name}' must be a string, not {KindOf(element.Token)}.");
                return null;
            }
            var value = element.Text;
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
            var value = OptionalText(fields, WorkspaceIdSlot, EventLimits.MaxWorkspaceIdLength);
            if (_rejection is not null)
            {
                return null;
            }
            if (value is null)
            {
                if (_routeWorkspaceId is null)
                {
                    Error(RejectionCodes.MissingField, "workspaceId", "Field 'workspaceId' is required.");
                }
                return _routeWorkspaceId;
            }
            if (!WorkspaceIds.IsValid(value))
            {
                Error(RejectionCodes.InvalidWorkspaceId, "workspaceId", "Field 'workspaceId' is not a valid workspace id. " + WorkspaceIds.Rule);
                return null;
            }
            if (_routeWorkspaceId is not null && !string.Equals(value, _routeWorkspaceId, StringComparison.Ordinal))
            {
                Error(RejectionCodes.WorkspaceMismatch, "workspaceId", "Field 'workspaceId' names a different workspace than the request.");
                return null;
            }
            return value;
        }

        private DateTimeOffset? Timestamp(Slots fields)
        {
            var text = RequiredText(fields, TimestampSlot, 64);
            if (text is null)
            {
                return null;
            }
            if (!Iso8601.TryParseUtc(text, out var ts))
            {
                Error(RejectionCodes.InvalidTimestamp, "timestamp", "Field 'timestamp' must be an ISO 8601 date and time with 'Z' or a UTC offset, for example 2026-11-23T09:30:00Z.");
                return null;
            }
            if (ts > _now + EventLimits.MaxFutureSkew)
            {
                Error(RejectionCodes.TimestampInFuture, "timestamp", $"Field 'timestamp' is more than {EventLimits.MaxFutureSkew.TotalMinutes} minutes in the future.");
                return null;
            }
            if (ts < _now.AddDays(-EventLimits.RetentionDays))
            {
                Error(RejectionCodes.OutsideRetention, "timestamp", $"Field 'timestamp' is older than the {EventLimits.RetentionDays}-day retention period.");
                return null;
            }
            return ts;
        }

        private AuditActor? Actor(Slots fields)
        {
            var f = RequiredObject(fields, ActorSlot);
            if (f is null)
            {
                return null;
            }
            var type = RequiredText(f, TypeSlot, 16, "actor.");
            var id = RequiredText(f, IdSlot, EventLimits.MaxIdLength, "actor.");
            var name = OptionalText(f, NameSlot, EventLimits.MaxTextLength, "actor.");
            var email = OptionalText(f, EmailSlot, EventLimits.MaxTextLength, "actor.");
            if (type is not null && !ActorTypes.All.Contains(type))
            {
                Error(RejectionCodes.InvalidActorType, "actor.type", $"Field 'actor.type' must be one of {string.Join(", ", ActorTypes.All)}.");
            }
            return _rejection is null ? new AuditActor(type!, id!, name, email) : null;
        }

        private AuditResource? Resource(Slots fields)
        {
            var f = RequiredObject(fields, ResourceSlot);
            if (f is null)
            {
                return null;
            }
            var type = RequiredText(f, TypeSlot, EventLimits.MaxTypeLength, "resource.");
            var id = RequiredText(f, IdSlot, EventLimits.MaxIdLength, "resource.");
            var name = OptionalText(f, NameSlot, EventLimits.MaxTextLength, "resource.");
            return _rejection is null ? new AuditResource(type!, id!, name) : null;
        }

        private AuditContext? Context(Slots fields)
        {
            if (!fields.TryGetValue(ContextSlot, out var element) || element.Token == JsonTokenType.Null)
            {
                return null;
            }
            if (element.Token != JsonTokenType.StartObject)
            {
                Error(RejectionCodes.WrongType, "context", $"Field 'context' must be an object, not {KindOf(element.Token)}.");
                return null;
            }
            var f = Checked(element.Fields!);
            if (f is null)
            {
                return null;
            }
            var ip = OptionalText(f, IpSlot, 64, "context.");
            var userAgent = OptionalText(f, UserAgentSlot, EventLimits.MaxUserAgentLength, "context.");
            var requestId = OptionalText(f, RequestIdSlot, EventLimits.MaxIdLength, "context.");
            if (ip is not null && !IpAddressText.IsValid(ip))
            {
                Error(RejectionCodes.InvalidIp, "context.ip", "Field 'context.ip' is not an IPv4 address in dotted-quad form (four numbers 0-255 without leading zeros, such as 203.0.113.7) or an IPv6 address.");
            }
            if (_rejection is not null || (ip is null && userAgent is null && requestId is null))
            {
                return null;
            }
            return new AuditContext(ip, userAgent, requestId);
        }

        /// <summary>A nested object's fields, or null after recording its first problem (an unknown or repeated field).</summary>
        private Slots? Checked(Slots fields)
        {
            if (fields.Problem is not null)
            {
                _rejection ??= fields.Problem;
                return null;
            }
            return fields;
        }

        private string? Changes(Slots fields)
        {
            if (!fields.TryGetValue(ChangesSlot, out var element) || element.Token == JsonTokenType.Null)
            {
                return null;
            }
            if (element.Token != JsonTokenType.StartArray)
            {
                Error(RejectionCodes.InvalidChanges, "changes", "Field 'changes' must be an array of {\"field\", \"before\", \"after\"} objects.");
                return null;
            }
            var reader = new Utf8JsonReader(_json.Slice(element.Start, element.Length), _options);
            reader.Read();
            var count = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var path = count < ChangePaths.Length ? ChangePaths[count] : "changes[" + count + "].";
                if (++count > EventLimits.MaxChanges)
                {
                    Error(RejectionCodes.InvalidChanges, "changes", $"Field 'changes' holds more than {EventLimits.MaxChanges} entries.");
                    return null;
                }
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    Error(RejectionCodes.InvalidChanges, path.TrimEnd('.'), $"Each entry of 'changes' must be an object, not {KindOf(reader.TokenType)}.");
                    return null;
                }
                var f = Checked(CollectObject(ref reader, ChangeFields, path));
                if (f is null || RequiredText(f, FieldSlot, EventLimits.MaxTextLength, path) is null)
                {
                    return null;
                }
            }
            return Compact(element, "changes");
        }

        private string? Properties(Slots fields)
        {
            if (!fields.TryGetValue(PropertiesSlot, out var element) || element.Token == JsonTokenType.Null)
            {
                return null;
            }
            if (element.Token != JsonTokenType.StartObject)
            {
                Error(RejectionCodes.WrongType, "properties", $"Field 'properties' must be an object, not {KindOf(element.Token)}.");
                return null;
            }
            return Compact(element, "properties");
        }

        private Slots? RequiredObject(Slots fields, int slot)
        {
            var name = fields.Name(slot);
            if (!fields.TryGetValue(slot, out var element) || element.Token == JsonTokenType.Null)
            {
                Error(RejectionCodes.MissingField, name, $"Field '{name}' is required.");
                return null;
            }
            if (element.Token != JsonTokenType.StartObject)
            {
                Error(RejectionCodes.WrongType, name, $"Field '{name}' must be an object, not {KindOf(element.Token)}.");
                return null;
            }
            return Checked(element.Fields!);
        }

        private string? Compact(Value element, string field)
        {
            string text;
            try
            {
                text = CompactJson.Write(_json.Slice(element.Start, element.Length));
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                Error(RejectionCodes.InvalidString, field, "A nested value holds an invalid UTF-16 sequence (a lone surrogate).");
                return null;
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
    }

    private static string? TryGetString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string KindOf(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "nothing",
    };

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}

/// <summary>Exactly one of <see cref="Event"/> and <see cref="Rejection"/> is set.</summary>
public readonly record struct ReadResult(AuditEvent? Event, IngestRejection? Rejection);
