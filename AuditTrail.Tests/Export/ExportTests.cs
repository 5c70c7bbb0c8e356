using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Ingestion;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Query;
using CsvHelper;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Export;

public sealed class ExportTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private SeededTrail _trail = null!;

    public async ValueTask InitializeAsync() => _trail = await SeededTrail.CreateAsync(azurite, Ct);

    public async ValueTask DisposeAsync() => await _trail.DisposeAsync();

    private async Task<HttpResponseMessage> PostExportAsync(string query, string? token = null, string? workspaceId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{workspaceId ?? _trail.WorkspaceId}/exports?{query}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? _trail.OwnerToken);
        return await _trail.Http.SendAsync(request, Ct);
    }

    [Theory]
    [InlineData("")]
    [InlineData("actorType=user&productArea=Source")]
    [InlineData("resourceType=source&resourceId=src_1")]
    public async Task Export_holds_exactly_the_rows_the_query_API_returns_in_the_same_order(string filter)
    {
        // Read first: the export records its own audit event once written.
        var (expected, _) = await _trail.PageAllAsync(filter, 1000, Ct);

        var response = await PostExportAsync(filter);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var export = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        using var anonymous = new HttpClient();
        var download = await anonymous.GetAsync(export.GetProperty("downloadUrl").GetString(), Ct);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var rows = CsvRows.Parse(await download.Content.ReadAsStringAsync(Ct));
        Assert.Equal(expected, rows.Skip(1).Select(r => r[11]));
        Assert.Equal(expected.Count, export.GetProperty("rowCount").GetInt64());
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.StartsWith($"audit-{_trail.WorkspaceId}-", download.Content.Headers.ContentDisposition?.FileName?.Trim('"'), StringComparison.Ordinal);
        Assert.Equal(response.Headers.Location?.ToString(), $"/api/workspaces/{_trail.WorkspaceId}/exports/{export.GetProperty("id").GetString()}");
    }

    [Fact]
    public async Task Export_is_an_audit_event_with_the_exporting_token_as_actor()
    {
        var export = await (await PostExportAsync("actorId=usr_a")).Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.True(AccessTokenService.TryParse(_trail.OwnerToken, out var tokenId, out _));

        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?type=Audit%20Trail%20Exported", _trail.OwnerToken, Ct);

        var e = Assert.Single((await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value").EnumerateArray());
        Assert.Equal(("token", tokenId), (e.GetProperty("actor").GetProperty("type").GetString(), e.GetProperty("actor").GetProperty("id").GetString()));
        Assert.Equal(export.GetProperty("id").GetString(), e.GetProperty("resource").GetProperty("id").GetString());
        Assert.Equal("usr_a", e.GetProperty("properties").GetProperty("filters").GetProperty("actorId").GetString());
    }

    [Fact]
    public async Task Status_gives_a_fresh_link_and_an_expired_export_is_gone()
    {
        var created = await (await PostExportAsync("")).Content.ReadFromJsonAsync<JsonElement>(Ct);
        var id = created.GetProperty("id").GetString();

        var status = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/exports/{id}", _trail.OwnerToken, Ct);
        using var anonymous = new HttpClient();
        var link = (await status.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("downloadUrl").GetString();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(link, Ct)).StatusCode);

        _trail.Clock.Now = _trail.Clock.Now.AddDays(8);
        var gone = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/exports/{id}", _trail.OwnerToken, Ct);
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        Assert.Equal("export_expired", (await gone.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Download_link_stops_working_after_it_expires()
    {
        // Export as if two hours ago: the one-hour link expired an hour ago by the storage's clock.
        _trail.Clock.Now = DateTimeOffset.UtcNow.AddHours(-2);
        var created = await (await PostExportAsync("actorId=usr_b")).Content.ReadFromJsonAsync<JsonElement>(Ct);
        using var anonymous = new HttpClient();

        var response = await anonymous.GetAsync(created.GetProperty("downloadUrl").GetString(), Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Download_link_grants_nothing_on_any_other_blob()
    {
        var first = (await (await PostExportAsync("actorId=usr_a")).Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("downloadUrl").GetString()!;
        var second = (await (await PostExportAsync("actorId=usr_b")).Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("downloadUrl").GetString()!;
        var crossed = new Uri(second).GetLeftPart(UriPartial.Path) + new Uri(first).Query;
        using var anonymous = new HttpClient();

        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync(crossed, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync(new Uri(first).GetLeftPart(UriPartial.Path), Ct)).StatusCode);
    }

    [Fact]
    public async Task Formula_in_a_stored_value_arrives_neutralised_in_the_file()
    {
        var ingestion = _trail.App.Services.GetRequiredService<IngestionService>();
        var e = TestEvents.Event(_trail.WorkspaceId, "evt_formula", actorId: "usr_formula");
        e["actor"]!["name"] = "=cmd|'/C calc'!A0";
        await ingestion.IngestAsync([RawEvent.FromText(e.ToJsonString())], new IngestContext(IngestDoors.Http), Ct);

        var created = await (await PostExportAsync("actorId=usr_formula")).Content.ReadFromJsonAsync<JsonElement>(Ct);
        using var anonymous = new HttpClient();
        var rows = CsvRows.Parse(await anonymous.GetStringAsync(created.GetProperty("downloadUrl").GetString(), Ct));

        Assert.Equal("'=cmd|'/C calc'!A0", rows[1][5]);
    }

    [Fact]
    public async Task Only_the_workspace_owner_may_export()
    {
        var tokens = _trail.App.Services.GetRequiredService<AccessTokenService>();
        var ingestOnly = (await tokens.CreateAsync(_trail.WorkspaceId, Roles.Ingest, null, "t", Ct)).Token;
        var otherOwner = (await tokens.CreateAsync(TestEvents.NewWorkspaceId(), Roles.Owner, null, "t", Ct)).Token;

        Assert.Equal(HttpStatusCode.Forbidden, (await PostExportAsync("", ingestOnly)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostExportAsync("", otherOwner)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _trail.Http.PostAsync($"/api/workspaces/{_trail.WorkspaceId}/exports", null, Ct)).StatusCode);
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("not-an-id")]
    public async Task Unknown_export_is_a_404_problem(string id)
    {
        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/exports/{id}", _trail.OwnerToken, Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("export_not_found", (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("limit=5", "limit")]
    [InlineData("actorType=robot", "actorType")]
    public async Task Bad_filters_are_a_400_naming_the_parameter(string query, string parameter)
    {
        var response = await PostExportAsync(query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(parameter, (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("parameter").GetString());
    }
}
