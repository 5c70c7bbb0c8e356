using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Query;

public sealed class QueryTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private SeededTrail _trail = null!;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _trail = await SeededTrail.CreateAsync(azurite, Ct);

    public async ValueTask DisposeAsync() => await _trail.DisposeAsync();

    private string Iso(double daysAgo) => Uri.EscapeDataString(_trail.Clock.Now.AddDays(-daysAgo).ToString("O"));

    public static TheoryData<string> FilterCases() =>
    [
        "everything",
        "one type",
        "two types",
        "product area",
        "actor",
        "token actors",
        "resource",
        "resource type",
        "actor and type",
        "window",
        "user actors in an area within a window",
        "area and resource type",
        "the app's own records",
        "two types, comma-separated as the host forwards them",
    ];

    private (string Query, Func<Seed, bool> Filter) Case(string name) => name switch
    {
        "everything" => ("", _ => true),
        "one type" => ("type=Source%20Disabled", s => s.Type == "Source Disabled"),
        "two types" => ("type=Source%20Disabled&type=audience%20created", s => s.Type is "Source Disabled" or "Audience Created"),
        "product area" => ("productArea=Warehouses", s => s.Area == "Warehouses"),
        "actor" => ("actorId=usr_a", s => s.ActorId == "usr_a"),
        "token actors" => ("actorType=token", s => s.ActorType == "token"),
        "resource" => ("resourceType=source&resourceId=src_1", s => s.ResourceType == "source" && s.ResourceId == "src_1"),
        "resource type" => ("resourceType=source", s => s.ResourceType == "source"),
        "actor and type" => ("actorId=usr_b&type=Source%20Created", s => s.ActorId == "usr_b" && s.Type == "Source Created"),
        "window" => ($"start={Iso(40)}&end={Iso(10)}", s => s.Timestamp >= _trail.Clock.Now.AddDays(-40) && s.Timestamp < _trail.Clock.Now.AddDays(-10)),
        "user actors in an area within a window" => ($"actorType=user&productArea=Source&start={Iso(60)}",
            s => s.ActorType == "user" && s.Area == "Source" && s.Timestamp >= _trail.Clock.Now.AddDays(-60)),
        "area and resource type" => ("productArea=Engage&resourceType=audience", s => s.Area == "Engage" && s.ResourceType == "audience"),
        "the app's own records" => ("productArea=Audit%20Trail", s => s.Area == "Audit Trail"),
        "two types, comma-separated as the host forwards them" => ("type=Source%20Disabled,Audience%20Created", s => s.Type is "Source Disabled" or "Audience Created"),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(FilterCases))]
    public async Task Each_filter_returns_exactly_the_expected_events_newest_first_across_days_and_pages(string name)
    {
        var (query, filter) = Case(name);
        var expected = _trail.Expected(filter);

        var (paged, pages) = await _trail.PageAllAsync(query, 7, Ct);
        var (whole, wholePages) = await _trail.PageAllAsync(query, 1000, Ct);

        Assert.NotEmpty(expected);
        Assert.Equal(expected, paged);
        Assert.Equal(expected, whole);
        Assert.Equal(Math.Max(1, (expected.Count + 6) / 7), pages);
        Assert.Equal(1, wholePages);
    }

    [Fact]
    public async Task Events_older_than_retention_are_never_returned_even_when_asked_for()
    {
        var oldest = _trail.Seeds.Where(s => s.Timestamp < _trail.Clock.Now.AddDays(-90)).Select(s => s.Id).ToList();

        var (ids, _) = await _trail.PageAllAsync($"start={Iso(200)}", 1000, Ct);

        Assert.NotEmpty(oldest); // the seed does hold events past retention
        Assert.Empty(ids.Intersect(oldest));
        Assert.Equal(_trail.Expected(_ => true), ids);
    }

    [Fact]
    public async Task NextLink_is_relative_so_it_never_downgrades_the_scheme()
    {
        var link = await FirstNextLinkAsync("limit=5&type=Source%20Created&type=Source%20Disabled");

        Assert.StartsWith($"/api/workspaces/{_trail.WorkspaceId}/audit-events?", link, StringComparison.Ordinal);
        Assert.Contains("type=Source Created,Source Disabled", Uri.UnescapeDataString(link), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paging_keeps_working_while_the_clock_moves_on()
    {
        var first = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?limit=5", _trail.OwnerToken, Ct);
        var link = (await first.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("nextLink").GetString()!;
        _trail.Clock.Now = _trail.Clock.Now.AddMinutes(3);

        var second = await _trail.GetAsync(link, _trail.OwnerToken, Ct);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(_trail.Expected(_ => true).Skip(5).Take(5), (await second.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task A_page_that_holds_exactly_the_rest_has_no_nextLink()
    {
        var count = _trail.Expected(s => s.ActorId == "usr_a").Count;

        var (ids, pages) = await _trail.PageAllAsync("actorId=usr_a", count, Ct);

        Assert.Equal(count, ids.Count);
        Assert.Equal(1, pages);
    }

    [Fact]
    public async Task Filter_values_with_quotes_and_OData_syntax_match_only_literally()
    {
        var byActor = (await _trail.PageAllAsync($"actorId={Uri.EscapeDataString(SeededTrail.HostileId)}", 50, Ct)).Ids;
        var byResource = (await _trail.PageAllAsync($"resourceType=source&resourceId={Uri.EscapeDataString(SeededTrail.HostileId)}", 50, Ct)).Ids;
        var byType = (await _trail.PageAllAsync($"type={Uri.EscapeDataString(SeededTrail.HostileId)}", 50, Ct)).Ids;

        Assert.Equal(_trail.Expected(s => s.ActorId == SeededTrail.HostileId), byActor);
        Assert.Equal(_trail.Expected(s => s.ResourceId == SeededTrail.HostileId), byResource);
        Assert.Empty(byType);
    }

    [Fact]
    public async Task Events_carry_every_field_in_the_documented_shape()
    {
        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?type=Source%20Created&limit=1", _trail.OwnerToken, Ct);
        var e = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value")[0];
        var seed = _trail.Seeds[0];

        Assert.Equal(seed.Id, e.GetProperty("id").GetString());
        Assert.Equal(_trail.WorkspaceId, e.GetProperty("workspaceId").GetString());
        Assert.Equal(seed.Type, e.GetProperty("type").GetString());
        Assert.Equal(seed.Area, e.GetProperty("productArea").GetString());
        Assert.Equal(seed.Timestamp, e.GetProperty("timestamp").GetDateTimeOffset());
        Assert.Equal(seed.ActorId, e.GetProperty("actor").GetProperty("id").GetString());
        Assert.Equal("Ada Lovelace", e.GetProperty("actor").GetProperty("name").GetString());
        Assert.Equal(seed.ResourceId, e.GetProperty("resource").GetProperty("id").GetString());
        Assert.Equal("203.0.113.7", e.GetProperty("context").GetProperty("ip").GetString());
        Assert.False(e.GetProperty("changes")[0].GetProperty("after").GetBoolean());
        Assert.Equal("maintenance", e.GetProperty("properties").GetProperty("reason").GetString());
    }

    private async Task<string> FirstNextLinkAsync(string query)
    {
        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?{query}", _trail.OwnerToken, Ct);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("nextLink").GetString()!;
    }

    private static async Task<JsonElement> AssertBadRequestAsync(HttpResponseMessage response, string code, string parameter)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
        return problem;
    }

    [Fact]
    public async Task Altered_continuation_is_refused()
    {
        var link = await FirstNextLinkAsync("limit=5");
        var token = Uri.UnescapeDataString(link.Split("continuation=")[1]);
        var altered = (token[0] == 'A' ? 'B' : 'A') + token[1..];

        var response = await _trail.GetAsync(link.Split("continuation=")[0] + "continuation=" + Uri.EscapeDataString(altered), _trail.OwnerToken, Ct);

        await AssertBadRequestAsync(response, "invalid_continuation", "continuation");
    }

    [Theory]
    [InlineData("actorId=usr_b")]
    [InlineData("type=Source%20Created")]
    [InlineData("productArea=Source")]
    public async Task Continuation_reused_with_other_filters_is_refused(string otherFilter)
    {
        var link = await FirstNextLinkAsync("limit=5");
        var token = link.Split("continuation=")[1];

        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?{otherFilter}&limit=5&continuation={token}", _trail.OwnerToken, Ct);

        await AssertBadRequestAsync(response, "invalid_continuation", "continuation");
    }

    [Fact]
    public async Task Continuation_from_another_workspace_is_refused()
    {
        var link = await FirstNextLinkAsync("limit=5");
        await using var other = await SeededTrail.CreateAsync(azurite, Ct);

        var response = await other.GetAsync(link.Replace(_trail.WorkspaceId, other.WorkspaceId, StringComparison.Ordinal), other.OwnerToken, Ct);

        await AssertBadRequestAsync(response, "invalid_continuation", "continuation");
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("start=yesterday", "start")]
    [InlineData("start=2026-11-23T00:00:00", "start")]
    [InlineData("actorType=robot", "actorType")]
    [InlineData("productArea=Nowhere", "productArea")]
    [InlineData("actor=usr_a", "actor")]
    [InlineData("actorId=", "actorId")]
    [InlineData("actorId=a&actorId=b", "actorId")]
    [InlineData("continuation=not-a-token", "continuation")]
    public async Task Bad_parameters_are_a_400_naming_the_parameter(string query, string parameter)
    {
        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?{query}", _trail.OwnerToken, Ct);

        await AssertBadRequestAsync(response, parameter == "continuation" ? "invalid_continuation" : "invalid_parameter", parameter);
    }

    [Fact]
    public async Task End_before_start_is_a_400()
    {
        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?start={Iso(1)}&end={Iso(2)}", _trail.OwnerToken, Ct);

        await AssertBadRequestAsync(response, "invalid_parameter", "start");
    }

    [Fact]
    public async Task Event_catalog_is_served_grouped_by_product_area_without_a_token()
    {
        var response = await _trail.Http.GetAsync("/api/event-types", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var areas = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value").EnumerateArray().ToList();
        var engage = areas.Single(a => a.GetProperty("name").GetString() == "Engage");
        Assert.Equal(["Personas"], engage.GetProperty("formerNames").EnumerateArray().Select(n => n.GetString()));
        Assert.Contains("Audience Created", engage.GetProperty("eventTypes").EnumerateArray().Select(t => t.GetString()));
        Assert.Contains(areas, a => a.GetProperty("name").GetString() == "Schema Default");
    }

    [Fact]
    public async Task OpenAPI_document_describes_the_routes()
    {
        var response = await _trail.Http.GetAsync("/openapi/v1.json", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/workspaces/{workspaceId}/audit-events", out var events));
        Assert.True(events.TryGetProperty("get", out _));
        Assert.True(events.TryGetProperty("post", out _));
        Assert.True(paths.TryGetProperty("/api/event-types", out _));
    }
}
