using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Ingestion;

/// <summary>The real app in memory against Azurite, with helpers that read storage directly to check what landed.</summary>
public abstract class IngestionTestBase : IAsyncDisposable
{
    protected IngestionTestBase(AzuriteFixture azurite)
    {
        Azurite = azurite;
        App = new AuditTrailAppFactory(azurite.ConnectionString);
        Http = App.CreateClient();
        Clients = azurite.CreateClients();
    }

    protected AzuriteFixture Azurite { get; }
    protected AuditTrailAppFactory App { get; }
    protected HttpClient Http { get; }
    protected RegisteredStorage Clients { get; }
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Clients.Dispose();
        await App.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    private readonly Dictionary<string, string> _tokens = [];

    /// <summary>An ingest token of the workspace, created once per test.</summary>
    protected async Task<string> IngestTokenAsync(string workspaceId)
    {
        if (!_tokens.TryGetValue(workspaceId, out var token))
        {
            var service = App.Services.GetRequiredService<AccessTokenService>();
            token = (await service.CreateAsync(workspaceId, Roles.Ingest, null, "tests", Ct)).Token;
            _tokens[workspaceId] = token;
        }
        return token;
    }

    protected async Task<HttpResponseMessage> PostEventsAsync(string workspaceId, string json, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/workspaces/{Uri.EscapeDataString(workspaceId)}/audit-events")
        {
            Content = new StringContent(json, Encoding.UTF8, contentType),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await IngestTokenAsync(workspaceId));
        return await Http.SendAsync(request, Ct);
    }

    protected Task<HttpResponseMessage> InvokeEventHubAsync(string payload) =>
        Http.PostAsync("/IngestAuditEvents", new StringContent(payload, Encoding.UTF8, "application/json"), Ct);

    protected static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).Clone();

    /// <summary>
    /// Every row in the workspace's day partition, except the app's own records (creating the
    /// test's token is itself an audited event).
    /// </summary>
    protected async Task<List<TableEntity>> RowsAsync(string workspaceId, DateTimeOffset day) =>
        (await Clients.Tables.GetTableClient(TrailTables.EventsTable).PartitionAsync(TrailKeys.PartitionKey(workspaceId, day), Ct))
            .Where(r => r.GetString("Door") != "system")
            .ToList();

    /// <summary>The dead-letter lines written for a workspace (blobs of the last two days).</summary>
    protected async Task<List<JsonElement>> DeadLettersAsync(string workspaceId)
    {
        var container = Clients.Blobs.GetBlobContainerClient(TrailTables.DeadLetterContainer);
        var lines = new List<JsonElement>();
        foreach (var name in await container.RecentBlobNamesAsync("", Ct))
        {
            var text = (await container.ReadTextAsync(name, Ct))!;
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("workspaceId", out var ws) && ws.GetString() == workspaceId)
                {
                    lines.Add(doc.RootElement.Clone());
                }
            }
        }
        return lines;
    }
}
