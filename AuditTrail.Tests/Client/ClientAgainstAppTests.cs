extern alias client;
using System.Net;
using AuditTrail.Core.Access;
using AuditTrail.Functions.Export;
using AuditTrail.Tests.Export;
using AuditTrail.Tests.Infrastructure;
using client::AuditTrail.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Client;

/// <summary>The client against the real app (in memory, on Azurite): HTTP door, listing over nextLink, exports, problems.</summary>
[Collection(ExportQueueGroup.Name)]
public sealed class ClientAgainstAppTests(AzuriteFixture azurite) : IAsyncDisposable
{
    private readonly AuditTrailAppFactory _app = new(azurite.ConnectionString);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<string> TokenAsync(string workspaceId, string role) =>
        (await _app.Services.GetRequiredService<AccessTokenService>().CreateAsync(workspaceId, role, null, "client tests", Ct)).Token;

    private static readonly AuditEventFilter SentType = new() { Types = ["Source Modified"] };

    private static List<NewAuditEvent> Events(string workspaceId, int count) =>
        Enumerable.Range(0, count).Select(i => NewAuditEvent.Create(workspaceId, "Source Modified", ActorRef.User("usr_" + (i % 3)), new ResourceRef("source", "src_" + i),
            id: $"evt_{i:D5}", timestamp: DateTimeOffset.UtcNow.AddMinutes(-60).AddSeconds(i)).WithChange("enabled", i % 2 == 0, i % 2 == 1)).ToList();

    [Fact]
    public async Task Producer_over_HTTP_stores_a_batch_larger_than_one_request_and_the_reader_lists_it_across_pages()
    {
        var ws = TestEvents.NewWorkspaceId();
        using var http = _app.CreateClient();
        var producer = AuditTrailProducer.ForHttp(http, await TokenAsync(ws, Roles.Ingest));
        var events = Events(ws, 1203);

        var sent = await producer.SendAsync(events, Ct);

        Assert.Equal((1203, 2, 1203, 0), (sent.Sent, sent.Batches, sent.Accepted, sent.Duplicates));
        var reader = new AuditTrailReader(http, await TokenAsync(ws, Roles.Owner), new AuditTrailReaderOptions { PageSize = 500 });
        // The trail records its own actions (the tokens made above) too: only the producer's type is listed.
        var listed = await reader.ListAsync(ws, SentType, Ct).ToListAsync(Ct);
        Assert.Equal(events.Select(e => e.Id).Reverse(), listed.Select(e => e.Id));
        Assert.All(listed, e => Assert.Equal(("Source Modified", "Source", ws), (e.Type, e.ProductArea, e.WorkspaceId)));
        Assert.Equal(events[0].Changes![0].After!.Value.GetBoolean(), listed[^1].Changes![0].After!.Value.GetBoolean());

        var filtered = await reader.ListAsync(ws, SentType with { ActorId = "usr_1", ResourceType = "source" }, Ct).CountAsync(Ct);
        Assert.Equal(401, filtered);
    }

    [Fact]
    public async Task Sending_the_same_events_again_is_counted_as_duplicates_never_stored_twice()
    {
        var ws = TestEvents.NewWorkspaceId();
        using var http = _app.CreateClient();
        var producer = AuditTrailProducer.ForHttp(http, await TokenAsync(ws, Roles.Ingest));
        var events = Events(ws, 5);

        await producer.SendAsync(events, Ct);
        var again = await producer.SendAsync(events, Ct);

        Assert.Equal((0, 5), (again.Accepted, again.Duplicates));
        var reader = new AuditTrailReader(http, await TokenAsync(ws, Roles.Owner));
        Assert.Equal(5, await reader.ListAsync(ws, SentType, Ct).CountAsync(Ct));
    }

    [Fact]
    public async Task Refusals_are_typed_exceptions_carrying_the_problems_code()
    {
        var ws = TestEvents.NewWorkspaceId();
        using var http = _app.CreateClient();
        var ingest = await TokenAsync(ws, Roles.Ingest);

        var weak = await Assert.ThrowsAsync<AuditTrailForbiddenException>(async () => await new AuditTrailReader(http, ingest).ListAsync(ws, cancellationToken: Ct).ToListAsync(Ct));
        Assert.Equal("insufficient_role", weak.Code);
        var unknown = await Assert.ThrowsAsync<AuditTrailUnauthorizedException>(async () => await new AuditTrailReader(http, "not-a-token").ListAsync(ws, cancellationToken: Ct).ToListAsync(Ct));
        Assert.Equal("invalid_token", unknown.Code);
        var owner = new AuditTrailReader(http, await TokenAsync(ws, Roles.Owner));
        var bad = await Assert.ThrowsAsync<AuditTrailProblemException>(async () => await owner.ListAsync(ws, new AuditEventFilter { ActorType = "robot" }, Ct).ToListAsync(Ct));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_parameter", "actorType"), (bad.Status, bad.Code, bad.Parameter));
        var other = await Assert.ThrowsAsync<AuditTrailForbiddenException>(() => AuditTrailProducer.ForHttp(http, ingest).SendAsync(Events(TestEvents.NewWorkspaceId(), 1), Ct));
        Assert.Equal("forbidden", other.Code);
    }

    [Fact]
    public async Task Export_waits_for_the_export_and_returns_a_link_to_its_CSV()
    {
        var ws = TestEvents.NewWorkspaceId();
        using var http = _app.CreateClient();
        await AuditTrailProducer.ForHttp(http, await TokenAsync(ws, Roles.Ingest)).SendAsync(Events(ws, 7), Ct);
        var reader = new AuditTrailReader(http, await TokenAsync(ws, Roles.Owner), new AuditTrailReaderOptions { ExportPollInterval = TimeSpan.FromMilliseconds(50), ExportTimeout = TimeSpan.FromMinutes(2) });

        var export = reader.ExportAsync(ws, new AuditEventFilter { ActorId = "usr_0" }, Ct);
        // Standalone mode's export poller, run here one poll at a time (as ExportRuns does) until the client has its link.
        var poller = _app.Services.GetRequiredService<AuditTrail.Functions.FunctionsHost.StandaloneQueuePoller<ExportFunction>>();
        while (!export.IsCompleted)
        {
            if (await poller.PollOnceAsync(Ct) == 0)
            {
                await Task.WhenAny(export, Task.Delay(50, Ct));
            }
        }
        var link = await export;

        using var blobs = new HttpClient();
        var csv = await blobs.GetStringAsync(link, Ct);
        var rows = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 3, rows.Length); // header + usr_0's events (0, 3, 6)
        Assert.Contains("evt_00006", csv, StringComparison.Ordinal);
    }

    private static string Example(string text, string name)
    {
        var start = text.IndexOf("// example: " + name, StringComparison.Ordinal);
        var end = text.IndexOf("// end example", start, StringComparison.Ordinal);
        var lines = text[start..end].Split('\n')[1..].Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        var indent = lines.Min(l => l.Length - l.TrimStart().Length);
        return string.Join('\n', lines.Select(l => l[indent..]));
    }

    private static string RepositoryFile(string path)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AuditTrail.slnx")))
            {
                return Path.Combine(dir.FullName, path);
            }
        }
        throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task The_docs_producer_and_reader_examples_are_this_code_and_run()
    {
        var source = (await File.ReadAllTextAsync(RepositoryFile("AuditTrail.Tests/Client/ClientExamples.cs"), Ct)).ReplaceLineEndings("\n");
        var doc = (await File.ReadAllTextAsync(RepositoryFile("docs/client.md"), Ct)).ReplaceLineEndings("\n");
        foreach (var name in new[] { "producer", "reader" })
        {
            var marker = $"<!-- example: {name} (AuditTrail.Tests/Client/ClientExamples.cs) -->\n```csharp\n";
            var at = doc.IndexOf(marker, StringComparison.Ordinal);
            Assert.True(at >= 0, $"docs/client.md has no {name} example");
            var shown = doc[(at + marker.Length)..doc.IndexOf("\n```", at + marker.Length, StringComparison.Ordinal)];
            Assert.Equal(Example(source, name), shown);
        }

        var ws = TestEvents.NewWorkspaceId();
        using var http = _app.CreateClient();
        var output = new StringWriter();
        var sent = await ClientExamples.ProducerAsync(http, ws, await TokenAsync(ws, Roles.Ingest), output, Ct);
        Assert.Equal(2, sent.Accepted);

        var reading = ClientExamples.ReaderAsync(http, ws, await TokenAsync(ws, Roles.Owner), output, Ct);
        var poller = _app.Services.GetRequiredService<AuditTrail.Functions.FunctionsHost.StandaloneQueuePoller<ExportFunction>>();
        while (!reading.IsCompleted)
        {
            if (await poller.PollOnceAsync(Ct) == 0)
            {
                await Task.WhenAny(reading, Task.Delay(50, Ct));
            }
        }
        var link = await reading;
        var text = output.ToString();
        Assert.Contains("2 accepted, 0 duplicates, 0 rejected", text, StringComparison.Ordinal);
        Assert.Contains("usr_42 Warehouses Disabled warehouse/wh_7", text, StringComparison.Ordinal);
        Assert.Contains("refused: actorType", text, StringComparison.Ordinal);
        using var blobs = new HttpClient();
        Assert.Contains("wh_7", await blobs.GetStringAsync(link, Ct), StringComparison.Ordinal);
    }
}
