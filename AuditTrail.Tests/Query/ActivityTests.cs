using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Query;

/// <summary>
/// GET …/audit-events/activity (events per UTC day of a view) and GET …/audit-events/{eventId}
/// against the seeded trail on Azurite: the same filters and access rules as the list.
/// </summary>
public sealed class ActivityTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private SeededTrail _trail = null!;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _trail = await SeededTrail.CreateAsync(azurite, Ct);

    public async ValueTask DisposeAsync() => await _trail.DisposeAsync();

    private string Iso(double daysAgo) => Uri.EscapeDataString(_trail.Clock.Now.AddDays(-daysAgo).ToString("O"));

    private string Activity(string query) => $"/api/workspaces/{_trail.WorkspaceId}/audit-events/activity{(query.Length > 0 ? "?" + query : "")}";

    public static TheoryData<string> FilterCases() =>
    [
        "everything", "one type", "two types", "product area", "actor", "hostile actor id", "token actors", "resource", "hostile resource id", "window",
    ];

    private (string Query, Func<Seed, bool> Filter) Case(string name) => name switch
    {
        "everything" => ("", _ => true),
        "one type" => ("type=Source%20Disabled", s => s.Type == "Source Disabled"),
        "two types" => ("type=Source%20Disabled&type=audience%20created", s => s.Type is "Source Disabled" or "Audience Created"),
        "product area" => ("productArea=Warehouses", s => s.Area == "Warehouses"),
        "actor" => ("actorId=usr_a", s => s.ActorId == "usr_a"),
        "hostile actor id" => ("actorId=" + Uri.EscapeDataString(SeededTrail.HostileId), s => s.ActorId == SeededTrail.HostileId),
        "token actors" => ("actorType=token", s => s.ActorType == "token"),
        "resource" => ("resourceType=source&resourceId=src_1", s => s.ResourceType == "source" && s.ResourceId == "src_1"),
        "hostile resource id" => ("resourceType=source&resourceId=" + Uri.EscapeDataString(SeededTrail.HostileId), s => s.ResourceId == SeededTrail.HostileId),
        "window" => ($"start={Iso(40)}&end={Iso(10)}", s => s.Timestamp >= _trail.Clock.Now.AddDays(-40) && s.Timestamp < _trail.Clock.Now.AddDays(-10)),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(FilterCases))]
    public async Task Counts_per_day_are_exactly_the_listed_events_of_each_day(string name)
    {
        var (query, filter) = Case(name);
        var retentionStart = _trail.Clock.Now.AddDays(-EventLimits.RetentionDays);
        var expected = _trail.Seeds.Where(s => s.Timestamp >= retentionStart).Where(filter)
            .GroupBy(s => s.Timestamp.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Count());

        var response = await _trail.GetAsync(Activity(query), _trail.OwnerToken, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var days = body.GetProperty("value").EnumerateArray().Select(d => (Day: d.GetProperty("day").GetString()!, Count: d.GetProperty("count").GetInt32())).ToList();

        Assert.NotEmpty(expected);
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), days.Where(d => d.Count > 0).Select(d => KeyValuePair.Create(d.Day, d.Count)));
        Assert.Equal(expected.Values.Sum(), body.GetProperty("total").GetInt64());
        // Every day of the window is there, oldest first, zero days included, so a chart needs no gaps filled.
        var start = DateOnly.FromDateTime(body.GetProperty("start").GetDateTimeOffset().UtcDateTime);
        var end = DateOnly.FromDateTime(body.GetProperty("end").GetDateTimeOffset().AddTicks(-1).UtcDateTime);
        Assert.Equal(Enumerable.Range(0, end.DayNumber - start.DayNumber + 1).Select(i => start.AddDays(i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), days.Select(d => d.Day));
    }

    [Fact]
    public async Task Default_window_is_the_retention_period_clipped_at_its_start()
    {
        var response = await _trail.GetAsync(Activity($"start={Iso(200)}"), _trail.OwnerToken, Ct);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(body.GetProperty("start").GetDateTimeOffset() >= _trail.Clock.Now.AddDays(-EventLimits.RetentionDays).AddSeconds(-1));
        Assert.Equal(_trail.Expected(_ => true).Count, body.GetProperty("total").GetInt64());
        Assert.InRange(body.GetProperty("value").GetArrayLength(), 90, 92);
    }

    [Fact]
    public async Task A_range_without_events_has_zero_days_and_no_total()
    {
        // Between two seeds 33 hours apart: two hours with nothing in them.
        var response = await _trail.GetAsync(Activity($"start={Iso(2.5)}&end={Iso(2.5 - 1.0 / 12)}&actorId=usr_nobody"), _trail.OwnerToken, Ct);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, body.GetProperty("total").GetInt64());
        Assert.All(body.GetProperty("value").EnumerateArray(), d => Assert.Equal(0, d.GetProperty("count").GetInt32()));
        Assert.InRange(body.GetProperty("value").GetArrayLength(), 1, 2);
    }

    [Theory]
    [InlineData("start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "invalid_parameter", "start")]
    [InlineData("start=yesterday", "invalid_parameter", "start")]
    [InlineData("limit=10", "invalid_parameter", "limit")]
    [InlineData("continuation=abc", "invalid_parameter", "continuation")]
    [InlineData("productArea=Nowhere", "invalid_parameter", "productArea")]
    public async Task Invalid_filters_are_refused_with_problem_details(string query, string code, string parameter)
    {
        var response = await _trail.GetAsync(Activity(query), _trail.OwnerToken, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
    }

    [Theory]
    [InlineData("activity")]
    [InlineData("event")]
    public async Task Another_workspace_an_ingest_token_and_no_token_are_refused(string route)
    {
        var tokens = _trail.App.Services.GetRequiredService<AccessTokenService>();
        var (_, otherOwner) = await tokens.CreateAsync(TestEvents.NewWorkspaceId(), Roles.Owner, null, "other", Ct);
        var (_, ingest) = await tokens.CreateAsync(_trail.WorkspaceId, Roles.Ingest, null, "producer", Ct);
        var path = route == "activity" ? Activity("") : $"/api/workspaces/{_trail.WorkspaceId}/audit-events/evt_001";

        foreach (var (token, status, code) in new[] { (otherOwner, HttpStatusCode.Forbidden, "forbidden"), (ingest, HttpStatusCode.Forbidden, "insufficient_role"), ((string?)null, HttpStatusCode.Unauthorized, "missing_token") })
        {
            var response = await _trail.GetAsync(path, token, Ct);
            var text = await response.Content.ReadAsStringAsync(Ct);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
            Assert.DoesNotContain("evt_", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task One_event_by_id_is_the_same_json_as_in_the_list()
    {
        var list = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?actorId=usr_a&limit=1", _trail.OwnerToken, Ct);
        var listed = (await list.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value")[0];
        var id = listed.GetProperty("id").GetString()!;

        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events/{Uri.EscapeDataString(id)}", _trail.OwnerToken, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(listed.GetRawText(), await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Unknown_expired_and_other_workspaces_event_ids_answer_404_problem()
    {
        var expired = _trail.Seeds.First(s => s.Timestamp < _trail.Clock.Now.AddDays(-EventLimits.RetentionDays)).Id;
        var tokens = _trail.App.Services.GetRequiredService<AccessTokenService>();
        var otherWs = TestEvents.NewWorkspaceId();
        var (_, otherOwner) = await tokens.CreateAsync(otherWs, Roles.Owner, null, "other", Ct);

        foreach (var (ws, token, id) in new[]
                 {
                     (_trail.WorkspaceId, _trail.OwnerToken, "evt_never"),
                     (_trail.WorkspaceId, _trail.OwnerToken, expired),
                     (_trail.WorkspaceId, _trail.OwnerToken, SeededTrail.HostileId),
                     (otherWs, otherOwner, "evt_001"), // the trail's event, asked for in another workspace
                 })
        {
            var response = await _trail.GetAsync($"/api/workspaces/{ws}/audit-events/{Uri.EscapeDataString(id)}", token, Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
            Assert.Equal("event_not_found", problem.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task An_event_id_with_control_characters_or_query_parameters_is_refused()
    {
        var control = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events/evt%0A001", _trail.OwnerToken, Ct);
        var query = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events/evt_001?limit=1", _trail.OwnerToken, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, control.StatusCode);
        Assert.Equal("eventId", (await control.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("parameter").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, query.StatusCode);
    }
}
