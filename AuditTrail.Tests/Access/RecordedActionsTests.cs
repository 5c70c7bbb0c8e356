using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Access;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Access;

/// <summary>
/// The app's own actions on a workspace (tokens, forwarding settings) store their audit event or
/// do not happen: an event the trail would refuse stops the action before it is taken, and one
/// that cannot be stored (storage failing on the trail's rows only) undoes it, except a
/// revocation, which stands and is recorded when it is run again.
/// </summary>
public sealed class RecordedActionsTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Token_whose_name_the_trail_cannot_keep_is_not_created_and_nothing_is_dead_lettered()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();

        var (exit, err) = await RunTokensAsync(app, "create", "--workspace", ws, "--role", "owner", "--name", new string('n', 600));

        Assert.Equal(2, exit);
        Assert.StartsWith("error: Nothing was changed: the token's audit event would be refused by the trail", err, StringComparison.Ordinal);
        Assert.Contains("resource.name", err, StringComparison.Ordinal);
        Assert.Empty(await app.Services.GetRequiredService<AccessTokenService>().ListAsync(ws, Ct));
        Assert.Empty(await TrailAsync(app, ws));
        using var clients = azurite.CreateClients();
        var deadLetters = clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer);
        await deadLetters.CreateIfNotExistsAsync(cancellationToken: Ct);
        foreach (var name in await deadLetters.RecentBlobNamesAsync($"{IngestDoors.System}-", Ct))
        {
            Assert.DoesNotContain(ws, await deadLetters.ReadTextAsync(name, Ct) ?? "", StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Token_whose_record_cannot_be_stored_is_removed_again()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 1);
        var ws = TestEvents.NewWorkspaceId();
        var tokens = app.Services.GetRequiredService<AccessTokenService>();
        storage.Faults = TrailRowsRefused;

        await Assert.ThrowsAnyAsync<Exception>(() => tokens.CreateAsync(ws, Roles.Owner, null, "unrecorded", Ct));

        storage.Faults = _ => null;
        Assert.Empty(await tokens.ListAsync(ws, Ct));
        Assert.Empty(await TrailAsync(app, ws));
    }

    [Fact]
    public async Task Revocation_stands_when_its_record_fails_and_revoking_again_records_it_once()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 1);
        var ws = TestEvents.NewWorkspaceId();
        var tokens = app.Services.GetRequiredService<AccessTokenService>();
        var (info, token) = await tokens.CreateAsync(ws, Roles.Ingest, null, "ci", Ct);
        storage.Faults = TrailRowsRefused;

        await Assert.ThrowsAnyAsync<Exception>(() => tokens.RevokeAsync(ws, info.Id, Ct));

        storage.Faults = _ => null;
        Assert.Equal(TokenCheck.Revoked, (await tokens.ValidateAsync(token, Ct)).Result);
        Assert.True(await tokens.RevokeAsync(ws, info.Id, Ct));
        Assert.True(await tokens.RevokeAsync(ws, info.Id, Ct));
        var trail = await TrailAsync(app, ws);
        Assert.Equal(["Access Token Revoked", "Access Token Created"], trail.Select(e => e.Type));
        Assert.Equal(info.Id, trail[0].Resource.Id);
    }

    [Fact]
    public async Task Token_named_before_the_check_with_a_name_too_long_can_still_be_revoked_and_it_is_recorded()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        var tokens = app.Services.GetRequiredService<AccessTokenService>();
        var (info, token) = await tokens.CreateAsync(ws, Roles.Owner, null, "short", Ct);
        // As an earlier version stored it: the name was never checked.
        await RenameTokenAsync(info.Id, "🔑" + new string('x', 700));

        Assert.True(await tokens.RevokeAsync(ws, info.Id, Ct));

        Assert.Equal(TokenCheck.Revoked, (await tokens.ValidateAsync(token, Ct)).Result);
        var revoked = Assert.Single(await TrailAsync(app, ws), e => e.Type == "Access Token Revoked");
        Assert.Equal(EventLimits.MaxTextLength, revoked.Resource.Name!.Length);
        Assert.StartsWith("🔑xxx", revoked.Resource.Name, StringComparison.Ordinal);
        Assert.EndsWith("x…", revoked.Resource.Name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_whose_record_the_trail_would_refuse_is_not_queued_and_answers_the_reason()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        var ws = TestEvents.NewWorkspaceId();
        var tokens = app.Services.GetRequiredService<AccessTokenService>();
        var (info, token) = await tokens.CreateAsync(ws, Roles.Owner, null, "short", Ct);
        // A name an earlier version let through: the export's actor would be refused by the trail.
        await RenameTokenAsync(info.Id, new string('n', 700));
        using var http = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{ws}/exports");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("unrecordable_action", problem.RootElement.GetProperty("code").GetString());
        Assert.Contains("actor.name", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var clients = azurite.CreateClients();
        var exports = clients.Tables.GetTableClient(AuditTrail.Core.Export.ExportService.TableName);
        await exports.CreateIfNotExistsAsync(Ct);
        Assert.Empty(await exports.PartitionAsync(ws, Ct));
    }

    [Fact]
    public async Task Settings_change_whose_record_cannot_be_stored_is_undone()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 1);
        var ws = TestEvents.NewWorkspaceId();
        var settings = app.Services.GetRequiredService<ForwardingSettingsService>();
        var actor = new SettingsActor("token", "0123456789abcdef");
        await settings.UpdateAsync(ws, new ForwardingSettingsUpdate(true, "key-one", null, null), actor, Ct);
        storage.Faults = TrailRowsRefused;

        await Assert.ThrowsAnyAsync<Exception>(() => settings.UpdateAsync(ws, new ForwardingSettingsUpdate(false, "key-two", null, true), actor, Ct));

        storage.Faults = _ => null;
        var now = await app.Services.GetRequiredService<ForwardingSettingsStore>().GetAsync(ws, Ct);
        Assert.True(now.Enabled);
        Assert.Equal("key-one", now.WriteKey);
        Assert.False(now.SuppressTransientFailures);
        Assert.Single(await TrailAsync(app, ws), e => e.Type == "Audit Forwarding Settings Changed");
    }

    [Fact]
    public async Task Settings_change_whose_record_is_stored_stands_when_queueing_it_for_forwarding_fails()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = new AuditTrailAppFactory(storage.ConnectionString, storageRetries: 0,
            settings: new Dictionary<string, string> { ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00" });
        var ws = TestEvents.NewWorkspaceId();
        var settings = app.Services.GetRequiredService<ForwardingSettingsService>();
        var actor = new SettingsActor("token", "0123456789abcdef");
        await settings.UpdateAsync(ws, new ForwardingSettingsUpdate(true, "key-one", null, null), actor, Ct);
        // Forwarding is on, so the change's own event is queued for forwarding once stored; the queue fails.
        storage.Faults = r => r.Service == "queue" ? new Fault(FaultKind.ServerBusy) : null;

        await settings.UpdateAsync(ws, new ForwardingSettingsUpdate(null, null, null, true), actor, Ct);

        storage.Faults = _ => null;
        Assert.True((await app.Services.GetRequiredService<ForwardingSettingsStore>().GetAsync(ws, Ct)).SuppressTransientFailures);
        Assert.Equal(2, (await TrailAsync(app, ws)).Count(e => e.Type == "Audit Forwarding Settings Changed"));
    }

    [Fact]
    public void A_record_the_trail_would_refuse_is_refused_before_the_action_with_the_reader_s_reason()
    {
        var recorder = new ActionRecorder(null!, null!, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ActionRecorder>.Instance);
        var e = new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = "x-1", ["workspaceId"] = "ws_a", ["type"] = "Access Token Created", ["timestamp"] = DateTimeOffset.UtcNow.ToString("O"),
            ["actor"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "system", ["id"] = "token-admin" },
            ["resource"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "access-token", ["id"] = "t", ["name"] = "a\u0007b" },
        };

        var refused = Assert.Throws<UnrecordableActionException>(() => recorder.Check(e));

        Assert.True(refused.BeforeAction);
        Assert.Equal(RejectionCodes.ControlCharacters, refused.Rejection.Code);
        Assert.Equal("resource.name", refused.Rejection.Field);
    }

    /// <summary>Gives a token a name directly in storage, as a version that did not check names could have.</summary>
    private async Task RenameTokenAsync(string tokenId, string name)
    {
        using var clients = azurite.CreateClients();
        var table = clients.Tables.GetTableClient(AccessTokenService.TableName);
        var row = (await table.GetEntityAsync<TableEntity>(tokenId, "token", cancellationToken: Ct)).Value;
        row["Name"] = name;
        await table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, Ct);
    }

    /// <summary>Storage refuses every write of the trail's event rows (and only those) with a lasting 503.</summary>
    private static Fault? TrailRowsRefused(ProxiedRequest r) =>
        r.IsTransaction && r.Touches(TrailTables.EventsTable) ? new Fault(FaultKind.ServerBusy) : null;

    private static async Task<(int Exit, string Err)> RunTokensAsync(AuditTrailAppFactory app, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await TokensCommand.RunAsync(app.Services, ["tokens", .. args], output, error, Ct);
        return (exit, error.ToString());
    }

    /// <summary>The workspace's trail as the query API reads it, newest first.</summary>
    private static async Task<IReadOnlyList<AuditEvent>> TrailAsync(AuditTrailAppFactory app, string workspaceId)
    {
        var now = DateTimeOffset.UtcNow;
        var page = await app.Services.GetRequiredService<TrailQueryService>()
            .QueryAsync(new AuditQuery(workspaceId, now.AddDays(-1), now.AddHours(1), [], null, null, null, null, null, AuditQuery.MaxLimit), null, Ct);
        return page.Events;
    }
}
