using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// One workspace of the real app against Azurite, with a clock the test moves past the sealing
/// delay (never a sleep), an owner client, and direct storage clients to tamper with.
/// </summary>
public sealed class IntegrityTrail : IAsyncDisposable
{
    public static readonly TimeSpan SealDelay = TimeSpan.FromMinutes(5);

    private IntegrityTrail(string storageConnectionString, string directConnectionString, IReadOnlyDictionary<string, string>? settings, DateTimeOffset? now)
    {
        Clock = now is { } at ? new TestClock(at) : TestClock.AtTestTime();
        var all = new Dictionary<string, string>(settings ?? new Dictionary<string, string>()) { ["AuditTrail:Integrity:SealDelay"] = SealDelay.ToString() };
        App = new AuditTrailAppFactory(storageConnectionString, Clock, storageRetries: 1, settings: all);
        Clients = AzuriteFixture.CreateClients(directConnectionString);
    }

    public TestClock Clock { get; }

    public AuditTrailAppFactory App { get; }

    public RegisteredStorage Clients { get; }

    public string Ws { get; } = TestEvents.NewWorkspaceId();

    public HttpClient Owner { get; private set; } = null!;

    public TableClient Events => Clients.Tables.GetTableClient(TrailTables.EventsTable);

    public TableClient Ledger => Clients.Tables.GetTableClient(IntegrityStore.LedgerTable);

    public Azure.Storage.Blobs.BlobContainerClient DigestBlobs => Clients.Blobs.GetBlobContainerClient(IntegrityStore.DigestContainer);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <param name="storageConnectionString">What the app talks to (a fault proxy, say).</param>
    /// <param name="directConnectionString">Azurite itself, for the test's own reads and tampering.</param>
    /// <param name="now">Where the clock starts (default: <see cref="TestClock.AtTestTime"/>, the run's fixed time of day).</param>
    public static async Task<IntegrityTrail> StartAsync(string storageConnectionString, string? directConnectionString = null, IReadOnlyDictionary<string, string>? settings = null, DateTimeOffset? now = null)
    {
        var trail = new IntegrityTrail(storageConnectionString, directConnectionString ?? storageConnectionString, settings, now);
        trail.Owner = await StoredTrail.IngestClientAsync(trail.App, trail.Ws);
        return trail;
    }

    public JsonObject Event(string id) => TestEvents.Event(Ws, id, timestamp: Clock.Now.AddMinutes(-1), actorId: "usr_" + id.Length);

    public async Task<JsonElement> IngestAsync(params JsonObject[] events)
    {
        using var response = await StoredTrail.PostAsync(Owner, Ws, events);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await StoredTrail.JsonAsync(response);
    }

    /// <summary>Moves the clock past the sealing delay and seals this workspace.</summary>
    public async Task<SealReport> SealAsync(TimeSpan? advance = null)
    {
        Clock.Now += advance ?? SealDelay + TimeSpan.FromMinutes(1);
        return await App.Services.GetRequiredService<DigestSealer>().SealAsync(Ws, Ct);
    }

    public async Task<JsonElement> VerifyAsync(string query = "")
    {
        using var response = await Owner.GetAsync($"/api/workspaces/{Ws}/integrity/verification{query}", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await StoredTrail.JsonAsync(response);
    }

    public static void AssertIntact(JsonElement report)
    {
        Assert.True(report.GetProperty("intact").GetBoolean(), report.ToString());
    }

    public static IEnumerable<string> Ids(JsonElement report, string list) =>
        report.GetProperty(list).EnumerateArray().Select(f => f.GetProperty("eventId").GetString()!);

    public static IEnumerable<(long? Sequence, string Code)> DigestProblems(JsonElement report) =>
        report.GetProperty("digestProblems").EnumerateArray()
            .Select(f => (f.GetProperty("sequence").ValueKind == JsonValueKind.Number ? f.GetProperty("sequence").GetInt64() : (long?)null, f.GetProperty("code").GetString()!));

    /// <summary>The event's rows as stored (primary first), read directly.</summary>
    public async Task<List<TableEntity>> RowsOfAsync(string eventId)
    {
        var rows = await Events.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey ge {Ws + "_"} and PartitionKey lt {Ws + "`"} and EventId eq {eventId}"), cancellationToken: Ct).ToListAsync(Ct);
        return rows.OrderBy(r => r.RowKey.StartsWith(TrailKeys.PrimaryPrefix, StringComparison.Ordinal) ? 0 : 1).ToList();
    }

    public async Task<int> LedgerEntriesAsync() =>
        await Ledger.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"WorkspaceId eq {Ws}"), cancellationToken: Ct).CountAsync(Ct);

    public async Task<List<JsonElement>> DigestsAsync()
    {
        using var response = await Owner.GetAsync($"/api/workspaces/{Ws}/integrity/digests", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("digests").EnumerateArray().Select(d => d.Clone()).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Owner.Dispose();
        Clients.Dispose();
        await App.DisposeAsync();
    }
}
