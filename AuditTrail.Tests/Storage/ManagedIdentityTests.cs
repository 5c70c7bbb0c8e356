using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Storage;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Storage;

/// <summary>An Azurite of this class's own that takes Microsoft Entra bearer tokens over https, as Azure does under managed identity.</summary>
public sealed class OAuthAzuriteFixture : IAsyncLifetime
{
    public AzuriteProcess Process { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Process = await AzuriteProcess.StartAsync(oauth: true);

    public ValueTask DisposeAsync()
    {
        Process.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Trusts exactly the certificate this Azurite serves.</summary>
    public SocketsHttpHandler TrustingHandler() => new()
    {
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == Process.Certificate!.GetCertHashString() },
    };

    /// <summary>The identity-based settings, as an app in Azure has them: three https service URIs and no connection string.</summary>
    public Dictionary<string, string> IdentitySettings() => new()
    {
        ["AuditStorage:blobServiceUri"] = Process.Endpoints["Blob"].ToString(),
        ["AuditStorage:queueServiceUri"] = Process.Endpoints["Queue"].ToString(),
        ["AuditStorage:tableServiceUri"] = Process.Endpoints["Table"].ToString(),
    };
}

/// <summary>
/// The whole storage path under managed identity (tokens from a <see cref="TokenCredential"/>,
/// download links signed with a user delegation key) against a real Azurite that checks the
/// tokens, where before it had only ever met a scripted transport.
/// </summary>
public sealed class ManagedIdentityTests(OAuthAzuriteFixture azurite) : IClassFixture<OAuthAzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void UseTransport(IServiceCollection services, HttpMessageHandler handler)
    {
        var http = new HttpClient(handler);
        services.ConfigureAll<TableClientOptions>(o => o.Transport = new HttpClientTransport(http));
        services.ConfigureAll<BlobClientOptions>(o => o.Transport = new HttpClientTransport(http));
        services.ConfigureAll<QueueClientOptions>(o => o.Transport = new HttpClientTransport(http));
    }

    [Fact]
    public async Task The_trail_runs_on_identity_settings_alone_with_bearer_tokens_and_user_delegation_download_links()
    {
        var credential = new EntraTestCredential();
        var wire = new RecordingHandler(azurite.TrustingHandler());
        await using var app = new AuditTrailAppFactory("", settings: azurite.IdentitySettings(), services: services =>
        {
            services.AddSingleton<TokenCredential>(credential);
            UseTransport(services, wire);
        });
        var ws = TestEvents.NewWorkspaceId();
        var token = (await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "identity", Ct)).Token;
        using var http = app.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var ingest = await http.PostAsync($"/api/workspaces/{ws}/audit-events", new StringContent(TestEvents.Array(TestEvents.Event(ws, "evt_mi_1"), TestEvents.Event(ws, "evt_mi_2")), System.Text.Encoding.UTF8, "application/json"), Ct);
        var page = await http.GetFromJsonAsync<JsonElement>($"/api/workspaces/{ws}/audit-events?type=Source%20Disabled", Ct);
        async Task<JsonElement> ExportAsync(string query)
        {
            // Asked for over HTTP, run from the queue by the app's own poller (the queue too on identity alone), read back by status.
            var accepted = await http.PostAsync($"/api/workspaces/{ws}/exports?{query}", null, Ct);
            var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;
            await Export.ExportRuns.CompleteAsync(app.Services, ws, id, Ct);
            return await http.GetFromJsonAsync<JsonElement>(accepted.Headers.Location, Ct);
        }
        var first = await ExportAsync("type=Source%20Disabled");
        var second = await ExportAsync("actorId=nobody");

        Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);
        Assert.Equal(["evt_mi_1", "evt_mi_2"], page.GetProperty("value").EnumerateArray().Select(e => e.GetProperty("id").GetString()).Order(StringComparer.Ordinal));
        var link = new Uri(first.GetProperty("downloadUrl").GetString()!);
        var query = System.Web.HttpUtility.ParseQueryString(link.Query);
        Assert.Equal((EntraTestCredential.ObjectId, EntraTestCredential.TenantId, "r", "b", "https"), (query["skoid"], query["sktid"], query["sp"], query["sr"], query["spr"]));
        using var anonymous = new HttpClient(azurite.TrustingHandler());
        var download = await anonymous.GetAsync(link, Ct);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(["evt_mi_1", "evt_mi_2"], CsvRows.Parse(await download.Content.ReadAsStringAsync(Ct)).Skip(1).Select(r => r[11]).Order(StringComparer.Ordinal));
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        // The link opens that blob alone, for reading only.
        var other = new Uri(second.GetProperty("downloadUrl").GetString()!);
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync(other.GetLeftPart(UriPartial.Path) + link.Query, Ct)).StatusCode);
        using var overwrite = new HttpRequestMessage(HttpMethod.Put, link) { Content = new ByteArrayContent([1]) };
        overwrite.Headers.Add("x-ms-blob-type", "BlockBlob");
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.SendAsync(overwrite, Ct)).StatusCode);

        var requests = wire.Requests.ToList();
        Assert.All(requests, r => Assert.Equal("https", r.Uri.Scheme));
        Assert.All(requests, r => Assert.StartsWith("Bearer ", r.Authorization, StringComparison.Ordinal));
        Assert.Contains(requests, r => r.Uri.Port == azurite.Process.Endpoints["Table"].Port);
        // One delegation key signs both links; every token asked for is a storage token.
        Assert.Single(requests, r => r.Uri.Query.Contains("comp=userdelegationkey", StringComparison.Ordinal));
        Assert.All(credential.Scopes, s => Assert.Equal("https://storage.azure.com/.default", s));
        Assert.InRange(credential.Issued, 1, 3); // cached by the clients: one per service at most
    }

    [Fact]
    public async Task Storage_refuses_a_token_for_another_audience_so_the_tokens_above_were_checked()
    {
        using var storage = RegisteredStorage.Create("", azurite.TrustingHandler(), new Dictionary<string, string?>(azurite.IdentitySettings().Select(p => KeyValuePair.Create(p.Key, (string?)p.Value))),
            services => services.AddSingleton<TokenCredential>(new EntraTestCredential(audience: "https://management.azure.com")));

        var table = await Assert.ThrowsAsync<RequestFailedException>(() => storage.Tables.GetTableClient("AuditEvents").FindAsync("pk", "rk", Ct));
        var queue = await Assert.ThrowsAsync<RequestFailedException>(() => storage.Queues.GetQueueClient("audit-forward").ExistsAsync(Ct));

        Assert.Equal(403, table.Status);
        Assert.Equal(403, queue.Status);
        Assert.True(StorageFailures.IsRefusal(table));
    }
}
