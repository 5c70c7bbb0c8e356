using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Export;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Export;
using AuditTrail.Core.Ingestion;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Query;
using CsvHelper;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Export;

/// <summary>Exports through the 202 flow: asked for over HTTP, run from the queue by the app's own poller, read back by status.</summary>
[Collection(ExportQueueGroup.Name)]
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

    /// <summary>Asks for an export, runs the queue until it is final, and answers its status as the status route gives it.</summary>
    private async Task<(JsonElement Status, HttpResponseMessage Accepted)> ExportAsync(string query)
    {
        var accepted = await PostExportAsync(query);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
        await ExportRuns.CompleteAsync(_trail.App.Services, _trail.WorkspaceId, id, Ct);
        var status = await _trail.GetAsync(accepted.Headers.Location!.ToString(), _trail.OwnerToken, Ct);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        return (await status.Content.ReadFromJsonAsync<JsonElement>(Ct), accepted);
    }

    [Theory]
    [InlineData("")]
    [InlineData("actorType=user&productArea=Source")]
    [InlineData("resourceType=source&resourceId=src_1")]
    public async Task Export_holds_exactly_the_rows_the_query_API_returns_in_the_same_order(string filter)
    {
        // Read first: the export records its own audit event once written.
        var (expected, _) = await _trail.PageAllAsync(filter, 1000, Ct);

        var (export, response) = await ExportAsync(filter);

        Assert.Equal("succeeded", export.GetProperty("status").GetString());
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
    public async Task Export_names_each_events_source_in_its_last_column()
    {
        var (export, _) = await ExportAsync("");

        using var anonymous = new HttpClient();
        var rows = CsvRows.Parse(await anonymous.GetStringAsync(export.GetProperty("downloadUrl").GetString(), Ct));
        Assert.Equal("source", rows[0][^1]);
        Assert.Equal(AuditCsv.Header.Count, rows[0].Length);
        // The seeded events came in by the API; the owner token's creation is the trail's own record.
        Assert.All(rows.Skip(1), r => Assert.Equal(r[1] == "Access Token Created" ? EventSources.Trail : EventSources.Api, r[^1]));
        Assert.Contains(rows.Skip(1), r => r[^1] == EventSources.Trail);
        Assert.Contains(rows.Skip(1), r => r[^1] == EventSources.Api);
    }

    [Fact]
    public async Task Export_is_an_audit_event_with_the_exporting_token_as_actor()
    {
        var (export, _) = await ExportAsync("actorId=usr_a");
        Assert.True(AccessTokenService.TryParse(_trail.OwnerToken, out var tokenId, out _));
        // Delivered again after it succeeded (the host may deliver a message twice): still one event.
        var again = await ExportRuns.InvokeQueueFunctionAsync(_trail.Http, new ExportMessage(_trail.WorkspaceId, export.GetProperty("id").GetString()!).ToJson(), 1, Ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        var response = await _trail.GetAsync($"/api/workspaces/{_trail.WorkspaceId}/audit-events?type=Audit%20Trail%20Exported", _trail.OwnerToken, Ct);

        var e = Assert.Single((await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value").EnumerateArray());
        Assert.Equal(("token", tokenId), (e.GetProperty("actor").GetProperty("type").GetString(), e.GetProperty("actor").GetProperty("id").GetString()));
        Assert.Equal(export.GetProperty("id").GetString(), e.GetProperty("resource").GetProperty("id").GetString());
        Assert.Equal("usr_a", e.GetProperty("properties").GetProperty("filters").GetProperty("actorId").GetString());
    }

    [Fact]
    public async Task Status_gives_a_fresh_link_and_an_expired_export_is_gone()
    {
        var (created, _) = await ExportAsync("");
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
        var (created, _) = await ExportAsync("actorId=usr_b");
        using var anonymous = new HttpClient();

        var response = await anonymous.GetAsync(created.GetProperty("downloadUrl").GetString(), Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Download_link_grants_nothing_on_any_other_blob()
    {
        var first = (await ExportAsync("actorId=usr_a")).Status.GetProperty("downloadUrl").GetString()!;
        var second = (await ExportAsync("actorId=usr_b")).Status.GetProperty("downloadUrl").GetString()!;
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

        var (created, _) = await ExportAsync("actorId=usr_formula");
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

    [Fact]
    public async Task Continuation_on_an_export_is_an_unknown_parameter_not_an_invalid_continuation()
    {
        var response = await PostExportAsync("continuation=abc");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(("invalid_parameter", "continuation"), (problem.GetProperty("code").GetString(), problem.GetProperty("parameter").GetString()));
    }

    [Fact]
    public async Task Asking_answers_202_at_once_with_the_status_address_and_nothing_is_written_until_the_queue_runs_it()
    {
        var response = await PostExportAsync("actorId=usr_a");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(ExportApi.PollSeconds), response.Headers.RetryAfter?.Delta);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var id = accepted.GetProperty("id").GetString()!;
        Assert.Equal($"/api/workspaces/{_trail.WorkspaceId}/exports/{id}", response.Headers.Location?.ToString());
        Assert.Equal(("queued", 0), (accepted.GetProperty("status").GetString(), accepted.GetProperty("rowCount").GetInt32()));
        Assert.Equal(JsonValueKind.Null, accepted.GetProperty("downloadUrl").ValueKind);
        var queued = await (await _trail.GetAsync(response.Headers.Location!.ToString(), _trail.OwnerToken, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("queued", queued.GetProperty("status").GetString());
        var exports = _trail.App.Services.GetRequiredService<ExportService>();
        Assert.False((await exports.Container.GetBlobClient(ExportService.BlobName(_trail.Clock.Now, _trail.WorkspaceId, id)).ExistsAsync(Ct)).Value);

        await ExportRuns.CompleteAsync(_trail.App.Services, _trail.WorkspaceId, id, Ct);

        var done = await (await _trail.GetAsync(response.Headers.Location!.ToString(), _trail.OwnerToken, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal(_trail.Expected(x => x.ActorId == "usr_a").Count, done.GetProperty("rowCount").GetInt32());
        Assert.Equal(JsonValueKind.String, done.GetProperty("completedAt").ValueKind);
        Assert.Equal(JsonValueKind.String, done.GetProperty("downloadUrl").ValueKind);
    }

    [Fact]
    public async Task Status_of_an_export_is_for_the_owner_of_its_workspace_only()
    {
        var (export, accepted) = await ExportAsync("actorId=usr_b");
        var id = export.GetProperty("id").GetString()!;
        var tokens = _trail.App.Services.GetRequiredService<AccessTokenService>();
        var ingestOnly = (await tokens.CreateAsync(_trail.WorkspaceId, Roles.Ingest, null, "t", Ct)).Token;
        var otherWs = TestEvents.NewWorkspaceId();
        var otherOwner = (await tokens.CreateAsync(otherWs, Roles.Owner, null, "t", Ct)).Token;
        var path = accepted.Headers.Location!.ToString();

        var ingest = await _trail.GetAsync(path, ingestOnly, Ct);
        var other = await _trail.GetAsync(path, otherOwner, Ct);
        var throughOwnWorkspace = await _trail.GetAsync($"/api/workspaces/{otherWs}/exports/{id}", otherOwner, Ct);
        var anonymous = await _trail.GetAsync(path, null, Ct);

        Assert.Equal((HttpStatusCode.Forbidden, "insufficient_role"), (ingest.StatusCode, await CodeOf(ingest)));
        Assert.Equal((HttpStatusCode.Forbidden, "forbidden"), (other.StatusCode, await CodeOf(other)));
        Assert.Equal((HttpStatusCode.NotFound, "export_not_found"), (throughOwnWorkspace.StatusCode, await CodeOf(throughOwnWorkspace)));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        foreach (var refused in new[] { ingest, other, throughOwnWorkspace })
        {
            Assert.DoesNotContain("downloadUrl", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_export_whose_work_was_lost_is_shown_failed_and_a_late_run_does_not_revive_it()
    {
        var response = await PostExportAsync("");
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
        var stalledAfter = new ExportOptions().StalledAfter;

        // Nothing ran it (its message lost, say), and the stall limit passed.
        _trail.Clock.Now = _trail.Clock.Now + stalledAfter + TimeSpan.FromMinutes(1);
        var status = await (await _trail.GetAsync(response.Headers.Location!.ToString(), _trail.OwnerToken, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        var late = await ExportRuns.InvokeQueueFunctionAsync(_trail.Http, new ExportMessage(_trail.WorkspaceId, id).ToJson(), 1, Ct);
        var after = await (await _trail.GetAsync(response.Headers.Location!.ToString(), _trail.OwnerToken, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);

        Assert.Equal("failed", status.GetProperty("status").GetString());
        Assert.Contains("made no progress", status.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        Assert.Equal("failed", after.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, after.GetProperty("downloadUrl").ValueKind);
    }

    [Fact]
    public async Task Unreadable_export_message_is_kept_on_the_poison_queue_and_acknowledged()
    {
        var text = "not an export message " + Guid.NewGuid().ToString("N");

        var response = await ExportRuns.InvokeQueueFunctionAsync(_trail.Http, text, 1, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(ExportService.PoisonQueueName, await ExportRuns.LogOf(response, Ct), StringComparison.Ordinal);
        var exports = _trail.App.Services.GetRequiredService<ExportService>();
        var poisoned = (await exports.PoisonQueue.PeekMessagesAsync(32, Ct)).Value.Select(m => QueueMessages.DecodeBase64(m.Body.ToString()));
        Assert.Contains(text, poisoned);
    }

    private static async Task<string?> CodeOf(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("code").GetString();
}
