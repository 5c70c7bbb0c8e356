using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Events;

public sealed class AuditEventReaderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static ReadResult Read(JsonNode node, string? routeWorkspace = null) =>
        AuditEventReader.Read(RawEvent.FromText(node.ToJsonString()), 0, routeWorkspace, Now);

    private static JsonObject Valid() => TestEvents.Event("ws_1", "evt_1", timestamp: Now.AddHours(-1));

    [Fact]
    public void Valid_event_is_read_with_every_field()
    {
        var result = Read(Valid());

        Assert.Null(result.Rejection);
        var e = result.Event!;
        Assert.Equal(("evt_1", "ws_1", "Source Disabled", "Source", true), (e.Id, e.WorkspaceId, e.Type, e.ProductArea, e.Cataloged));
        Assert.Equal(Now.AddHours(-1), e.Timestamp);
        Assert.Equal(new AuditActor("user", "usr_1", "Ada Lovelace", "ada@example.com"), e.Actor);
        Assert.Equal(new AuditResource("source", "src_1", "Website"), e.Resource);
        Assert.Equal(new AuditContext("203.0.113.7", "Mozilla/5.0", "req_1"), e.Context);
        Assert.Equal("[{\"field\":\"enabled\",\"before\":true,\"after\":false}]", e.Changes);
        Assert.Equal("{\"reason\":\"maintenance\"}", e.Properties);
    }

    public static TheoryData<string, string, string> Malformed() => new()
    {
        { "remove:id", RejectionCodes.MissingField, "id" },
        { "id=", RejectionCodes.EmptyField, "id" },
        { "id=   ", RejectionCodes.EmptyField, "id" },
        { "id=#42", RejectionCodes.WrongType, "id" },
        { "id=" + new string('x', 257), RejectionCodes.TooLong, "id" },
        { "id=a\u0000b", RejectionCodes.ControlCharacters, "id" },
        { "remove:type", RejectionCodes.MissingField, "type" },
        { "type=" + new string('T', 129), RejectionCodes.TooLong, "type" },
        { "workspaceId=ws/1", RejectionCodes.InvalidWorkspaceId, "workspaceId" },
        { "remove:workspaceId", RejectionCodes.MissingField, "workspaceId" },
        { "timestamp=yesterday", RejectionCodes.InvalidTimestamp, "timestamp" },
        { "timestamp=2026-11-23T10:00:00", RejectionCodes.InvalidTimestamp, "timestamp" },
        { "timestamp=2026-11-23", RejectionCodes.InvalidTimestamp, "timestamp" },
        { "timestamp=2026-11-23T12:06:00Z", RejectionCodes.TimestampInFuture, "timestamp" },
        { "timestamp=2026-08-24T11:59:59Z", RejectionCodes.OutsideRetention, "timestamp" },
        { "remove:actor", RejectionCodes.MissingField, "actor" },
        { "actor=#[]", RejectionCodes.WrongType, "actor" },
        { "actor.type=robot", RejectionCodes.InvalidActorType, "actor.type" },
        { "remove:actor.id", RejectionCodes.MissingField, "actor.id" },
        { "actor.role=admin", RejectionCodes.UnknownField, "actor.role" },
        { "remove:resource", RejectionCodes.MissingField, "resource" },
        { "remove:resource.type", RejectionCodes.MissingField, "resource.type" },
        { "context.ip=999.1.1.1", RejectionCodes.InvalidIp, "context.ip" },
        { "context=#\"x\"", RejectionCodes.WrongType, "context" },
        { "changes=#{}", RejectionCodes.InvalidChanges, "changes" },
        { "changes=#[1]", RejectionCodes.InvalidChanges, "changes[0]" },
        { "changes=#[{\"before\":1}]", RejectionCodes.MissingField, "changes[0].field" },
        { "properties=#[]", RejectionCodes.WrongType, "properties" },
        { "extra=1", RejectionCodes.UnknownField, "extra" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_event_is_rejected_with_a_specific_code_and_field(string mutation, string code, string field)
    {
        var node = Valid();
        Apply(node, mutation);

        var result = Read(node);

        Assert.Null(result.Event);
        Assert.Equal(code, result.Rejection!.Code);
        Assert.Equal(field, result.Rejection.Field);
        Assert.False(string.IsNullOrWhiteSpace(result.Rejection.Reason));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("127.1")]
    [InlineData("0x7f.1")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("01.02.03.004")]
    [InlineData("4294967295")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1.2.3.256")]
    [InlineData("1.2..4")]
    [InlineData(" 1.2.3.4")]
    [InlineData("+1.2.3.4")]
    [InlineData("١.2.3.4")]
    [InlineData("::ffff:127.1")]
    [InlineData("::ffff:01.2.3.4")]
    [InlineData("fe80::1%eth0")]
    [InlineData("[::1]")]
    [InlineData("[::1]:443")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("12345::1")]
    [InlineData("localhost")]
    public void An_ip_that_is_not_canonical_dotted_quad_IPv4_or_IPv6_is_rejected(string ip)
    {
        var node = Valid();
        node["context"]!["ip"] = ip;

        var rejection = Read(node).Rejection;

        Assert.NotNull(rejection);
        Assert.Equal((RejectionCodes.InvalidIp, "context.ip"), (rejection.Code, rejection.Field));
        Assert.Contains("dotted-quad", rejection.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("203.0.113.7")]
    [InlineData("255.255.255.255")]
    [InlineData("10.0.0.10")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("2001:db8::8a2e:370:7334")]
    [InlineData("2001:0DB8:0000:0000:0000:0000:0000:0001")]
    [InlineData("::ffff:192.0.2.128")]
    public void Canonical_IPv4_and_IPv6_are_stored_as_sent(string ip)
    {
        var node = Valid();
        node["context"]!["ip"] = ip;

        var result = Read(node);

        Assert.Null(result.Rejection);
        Assert.Equal(ip, result.Event!.Context!.Ip);
    }

    [Fact]
    public void Rejection_names_the_event_and_workspace_when_they_are_readable()
    {
        var node = Valid();
        node.Remove("actor");

        var rejection = Read(node).Rejection!;

        Assert.Equal(("evt_1", "ws_1"), (rejection.EventId, rejection.WorkspaceId));
    }

    [Theory]
    [InlineData("not json at all", RejectionCodes.InvalidJson)]
    [InlineData("[1,2]", RejectionCodes.NotAnObject)]
    [InlineData("42", RejectionCodes.NotAnObject)]
    [InlineData("{\"id\":\"a\",\"id\":\"b\"}", RejectionCodes.DuplicateField)]
    [InlineData("{\"id\":\"\\ud800\"}", RejectionCodes.InvalidString)]
    [InlineData("\"\\ud800 not an event\"", RejectionCodes.InvalidString)]
    public void Unreadable_input_is_rejected_not_thrown(string text, string code)
    {
        var result = AuditEventReader.Read(RawEvent.FromText(text), 3, null, Now);

        Assert.Equal(code, result.Rejection?.Code);
        Assert.Equal(3, result.Rejection?.Index);
    }

    [Fact]
    public void Oversize_event_is_rejected()
    {
        var node = Valid();
        node["properties"] = new JsonObject { ["blob"] = new string('x', EventLimits.MaxEventBytes) };

        Assert.Equal(RejectionCodes.EventTooLarge, Read(node).Rejection?.Code);
    }

    [Fact]
    public void Route_workspace_fills_a_missing_one_and_refuses_a_different_one()
    {
        var missing = Valid();
        missing.Remove("workspaceId");
        var other = Valid();

        Assert.Equal("ws_route", Read(missing, "ws_route").Event?.WorkspaceId);
        Assert.Equal(RejectionCodes.WorkspaceMismatch, Read(other, "ws_route").Rejection?.Code);
    }

    [Fact]
    public void Offsets_are_normalised_to_UTC_and_type_to_catalog_spelling()
    {
        var node = Valid();
        node["timestamp"] = "2026-11-23T07:00:00-05:00";
        node["type"] = "source disabled";

        var e = Read(node).Event!;

        Assert.Equal(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero), e.Timestamp);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
        Assert.Equal("Source Disabled", e.Type);
    }

    [Fact]
    public void Well_formed_event_of_an_unknown_type_is_kept_as_uncataloged()
    {
        var node = Valid();
        node["type"] = "Warehouse Exploded";

        var e = Read(node).Event!;

        Assert.False(e.Cataloged);
        Assert.Equal(EventCatalog.UncatalogedArea, e.ProductArea);
    }

    [Fact]
    public void Double_encoded_event_text_is_unwrapped()
    {
        var text = JsonSerializer.Serialize(Valid().ToJsonString());

        Assert.Equal("evt_1", AuditEventReader.Read(RawEvent.FromText(text), 0, null, Now).Event?.Id);
    }

    [Theory]
    [InlineData("changes", "[{\"field\":\"f\",\"before\":\"\\ud800\"}]")]
    [InlineData("properties", "{\"\\udc00\":1}")]
    public void Lone_surrogate_in_changes_or_properties_is_rejected_naming_the_field(string field, string json)
    {
        var node = Valid();
        node.Remove(field);
        var withField = node.ToJsonString()[..^1] + ",\"" + field + "\":" + json + "}";

        var result = AuditEventReader.Read(RawEvent.FromText(withField), 0, null, Now);

        Assert.Equal((RejectionCodes.InvalidString, field), (result.Rejection!.Code, result.Rejection.Field));
    }

    [Fact]
    public void Repeated_id_is_rejected_naming_the_last_one_given()
    {
        var text = "{\"id\":\"evt_first\"," + Valid().ToJsonString()[1..].Replace("\"evt_1\"", "\"evt_last\"", StringComparison.Ordinal);

        var result = AuditEventReader.Read(RawEvent.FromText(text), 0, null, Now);

        Assert.Equal((RejectionCodes.DuplicateField, "id", "evt_last"), (result.Rejection!.Code, result.Rejection.Field, result.Rejection.EventId));
    }

    [Fact]
    public void Event_read_from_a_parsed_body_equals_the_same_event_read_from_text()
    {
        var text = Valid().ToJsonString();
        using var body = JsonDocument.Parse("[" + text + "]");

        var fromElement = AuditEventReader.Read(RawEvent.FromJson(body.RootElement[0]), 0, null, Now).Event!;

        Assert.Equal(AuditEventReader.Read(RawEvent.FromText(text), 0, null, Now).Event, fromElement);
    }

    [Fact]
    public void Null_optional_fields_are_absent_not_errors()
    {
        var node = Valid();
        node["context"] = null;
        node["changes"] = null;
        node["properties"] = null;
        ((JsonObject)node["actor"]!)["email"] = null;

        var e = Read(node).Event!;

        Assert.Null(e.Context);
        Assert.Null(e.Changes);
        Assert.Null(e.Actor.Email);
    }

    /// <summary>"remove:a.b" deletes a field; "a.b=text" sets a string; "a.b=#json" sets raw JSON.</summary>
    internal static void Apply(JsonObject node, string mutation)
    {
        if (mutation.StartsWith("remove:", StringComparison.Ordinal))
        {
            var (parent, name) = Locate(node, mutation["remove:".Length..]);
            parent.Remove(name);
            return;
        }
        var eq = mutation.IndexOf('=', StringComparison.Ordinal);
        var (target, field) = Locate(node, mutation[..eq]);
        var value = mutation[(eq + 1)..];
        target[field] = value.StartsWith('#') ? JsonNode.Parse(value[1..]) : JsonValue.Create(value);
    }

    private static (JsonObject Parent, string Name) Locate(JsonObject node, string path)
    {
        var parts = path.Split('.');
        var parent = node;
        foreach (var part in parts[..^1])
        {
            parent = (JsonObject)parent[part]!;
        }
        return (parent, parts[^1]);
    }
}
