using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Functions.Schemas;
using AuditTrail.Tests.Events;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Json.Schema;

namespace AuditTrail.Tests.Client;

/// <summary>
/// schemas/audit-event.json held to the ingest reader: on the seeded fuzz corpus and the reader's
/// own validation cases, the schema accepts exactly what the reader accepts, except for the rules a
/// schema cannot state (docs/client.md, "What the schema cannot say").
/// </summary>
public sealed class EventSchemaTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Rejections the schema cannot give: they depend on the clock, the route, the bytes before parsing, or checks past a pattern.</summary>
    public static readonly IReadOnlySet<string> NotStatable = new HashSet<string>(StringComparer.Ordinal)
    {
        RejectionCodes.InvalidJson, RejectionCodes.InvalidString, RejectionCodes.DuplicateField, RejectionCodes.EventTooLarge,
        RejectionCodes.InvalidTimestamp, RejectionCodes.TimestampInFuture, RejectionCodes.OutsideRetention,
        RejectionCodes.InvalidIp, RejectionCodes.WorkspaceMismatch,
    };

    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(System.Text.Encoding.UTF8.GetString(SchemaApi.AuditEventSchema.Span)));

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
    public void The_schema_describes_source_as_set_by_the_trail_and_refuses_it_from_producers()
    {
        using var schema = JsonDocument.Parse(SchemaApi.AuditEventSchema);
        var source = schema.RootElement.GetProperty("$defs").GetProperty("source");

        Assert.Equal(Core.Events.EventSources.All, source.GetProperty("enum").EnumerateArray().Select(v => v.GetString()));
        Assert.True(source.GetProperty("readOnly").GetBoolean());
        Assert.False(schema.RootElement.GetProperty("properties").TryGetProperty("source", out _));
        var e = TestEvents.Event("ws_schema");
        e["source"] = "trail";
        using var sent = JsonDocument.Parse(e.ToJsonString());
        Assert.False(Schema.Value.Evaluate(sent.RootElement).IsValid);
    }

    [Fact]
    public async Task The_served_schema_is_the_repository_file()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();

        using var response = await http.GetAsync(SchemaApi.AuditEventSchemaPath, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/schema+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(RepositoryFile("schemas/audit-event.json"), Ct), await response.Content.ReadAsByteArrayAsync(Ct));
    }

    /// <summary>The corpus: the reader's validation cases, valid variants, and the seeded fuzz generators' events.</summary>
    private static IEnumerable<(string Text, string What)> Corpus(string workspaceId)
    {
        var now = DateTimeOffset.UtcNow;
        JsonObject Valid() => TestEvents.Event(workspaceId, "evt_1", timestamp: now.AddHours(-1));
        yield return (Valid().ToJsonString(), "valid");
        foreach (var mutation in new[]
        {
            "remove:workspaceId", "remove:context", "remove:changes", "remove:properties", "remove:actor.name", "remove:actor.email",
            "context=#null", "changes=#null", "properties=#null", "actor.name=#null", "context.ip=#null", "context.ip=2001:db8::1",
            "changes=#[]", "changes=#[{\"field\":\"a\"}]", "properties=#{\"deep\":{\"a\":[1,2,{\"b\":null}]}}", "id=évt \U0001F600", "type=Not In The Catalog",
            "timestamp=" + now.AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture),
            "actor.type=system", "actor.type=token", "id=" + new string('x', 256), "id=a b",
        })
        {
            var e = Valid();
            AuditEventReaderTests.Apply(e, mutation);
            yield return (e.ToJsonString(), "valid variant " + mutation);
        }
        foreach (var row in AuditEventReaderTests.Malformed())
        {
            var mutation = row.Data.Item1;
            var e = Valid();
            AuditEventReaderTests.Apply(e, mutation);
            yield return (e.ToJsonString(), "reader case " + mutation);
        }
        var random = new Random(HostileInput.Seed + 21);
        for (var i = 0; i < 1500; i++)
        {
            var (text, what) = HostileInput.MutatedEvent(random, workspaceId, "evt_" + i);
            yield return (text, "fuzz " + what);
        }
        for (var i = 0; i < 300; i++)
        {
            var (text, what) = HostileInput.BrokenEventText(random, workspaceId, "evt_b" + i);
            yield return (text, "broken text " + what);
        }
    }

    [Fact]
    public void Schema_accepts_exactly_what_the_reader_accepts_on_the_seeded_fuzz_corpus()
    {
        var workspaceId = TestEvents.NewWorkspaceId();
        var now = DateTimeOffset.UtcNow;
        var options = new EvaluationOptions { OutputFormat = OutputFormat.Flag };
        var disagreements = new List<string>();
        int accepted = 0, rejected = 0, skipped = 0;
        foreach (var (text, what) in Corpus(workspaceId))
        {
            JsonDocument? document = null;
            try
            {
                document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
            }
            catch (JsonException)
            {
            }
            using (document)
            {
                var raw = document is null ? RawEvent.FromText(text) : RawEvent.FromJson(document.RootElement);
                var read = AuditEventReader.Read(raw, 0, workspaceId, now);
                if (read.Rejection is { } rejection && NotStatable.Contains(rejection.Code))
                {
                    skipped++;
                    continue;
                }
                if (document is null)
                {
                    disagreements.Add($"{what}: not JSON, yet the reader said {read.Rejection?.Code ?? "accepted"}");
                    continue;
                }
                var valid = Schema.Value.Evaluate(document.RootElement, options).IsValid;
                if (valid != read.Event is not null)
                {
                    disagreements.Add($"{what}: reader {read.Rejection?.Code ?? "accepted"} ({read.Rejection?.Field}), schema {(valid ? "accepted" : "rejected")}: {Clip(text)}");
                }
                if (read.Event is not null)
                {
                    accepted++;
                }
                else
                {
                    rejected++;
                }
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {HostileInput.Seed}: {accepted} accepted and {rejected} rejected by both, {skipped} beyond a schema");
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements.Take(30)));
        // The comparison must have had both kinds to compare.
        Assert.True(accepted >= 20 && rejected >= 200, $"{accepted} accepted, {rejected} rejected");
    }

    private static string Clip(string text) => text.Length > 160 ? text[..160] + "…" : text;
}
