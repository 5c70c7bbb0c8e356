using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Access;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Hosting;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace AuditTrail.Tests.Telemetry;

/// <summary>
/// The meter and the trace listeners are process-wide by name (OpenTelemetry does not tell one
/// app's <c>AuditTrail</c> meter from another's), so these tests run alone, after the parallel ones:
/// every measurement they read is their own app's.
/// </summary>
[CollectionDefinition(nameof(TelemetryRunsAlone), DisableParallelization = true)]
public sealed class TelemetryRunsAlone;

[Collection(nameof(TelemetryRunsAlone))]
public sealed class TelemetryTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ingest_query_and_forward_are_traced_and_counted_without_content_or_secrets()
    {
        var spans = new List<Activity>();
        var metrics = new List<MetricSnapshot>();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Telemetry:Enabled"] = "true",
            ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
            ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00",
        }, services: s =>
        {
            s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
            s.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(metrics));
        });
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        var put = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        put.Content = JsonContent.Create(new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(put, Ct)).StatusCode);

        // Every field value is unique to this test, so finding one anywhere in the telemetry is a leak.
        var unique = Guid.NewGuid().ToString("N");
        JsonObject Event(int i)
        {
            var e = TestEvents.Event(ws, id: $"evt-{unique}-{i}", actorId: $"act-{unique}-{i}", resourceId: $"res-{unique}-{i}");
            e["actor"]!["name"] = $"Name {unique}";
            e["actor"]!["email"] = $"mail-{unique}@example.com";
            e["properties"] = new JsonObject { ["reason"] = $"reason-{unique}" };
            return e;
        }
        var events = Enumerable.Range(0, 5).Select(Event).ToList();
        var rejected = Event(9);
        rejected["actor"]!["type"] = "robot";

        // The HTTP door: 3 accepted, a copy of the first (duplicate), one rejected (invalid_actor_type).
        var post = Request(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events", token);
        post.Content = new StringContent(TestEvents.Array(events[0], events[1], events[2], events[0], rejected), Encoding.UTF8, "application/json");
        var ingested = await http.SendAsync(post, Ct);
        Assert.Equal(HttpStatusCode.OK, ingested.StatusCode);
        // The Event Hubs door, as the host invokes it: one new event, one already stored.
        var invocationId = Guid.NewGuid();
        var invoke = new HttpRequestMessage(HttpMethod.Post, "/IngestAuditEvents")
        {
            Content = new StringContent(TestEvents.EventHubInvocation([events[3].ToJsonString(), events[1].ToJsonString()]), Encoding.UTF8, "application/json"),
        };
        invoke.Headers.Add("X-Azure-Functions-InvocationId", invocationId.ToString());
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(invoke, Ct)).StatusCode);
        // A query whose filter is an event's own value.
        var query = await http.SendAsync(Request(HttpMethod.Get, $"/api/workspaces/{ws}/audit-events?actorId=act-{unique}-0&limit=10", token), Ct);
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        // The forward queue function, as the host invokes it, for each of this workspace's messages.
        var forwards = await ForwardAsHostAsync(app, http, ws);
        Assert.True(forwards >= 2, $"{forwards} forward messages");
        Assert.Empty(receiver.Violations);
        Assert.Equal(4, receiver.DistinctByMessageId.Keys.Count(k => k.StartsWith($"evt-{unique}-", StringComparison.Ordinal)));

        app.Services.GetRequiredService<TracerProvider>().ForceFlush();
        app.Services.GetRequiredService<MeterProvider>().ForceFlush();

        long Sum(string name, params (string Key, string Value)[] tags) => Points(metrics, name)
            .Where(p => tags.All(t => Tags(p).TryGetValue(t.Key, out var v) && v == t.Value)).Sum(p => p.GetSumLong());
        Assert.Equal(3, Sum("audittrail.ingest.events", ("audittrail.door", "http"), ("audittrail.outcome", "accepted")));
        Assert.Equal(1, Sum("audittrail.ingest.events", ("audittrail.door", "http"), ("audittrail.outcome", "duplicate")));
        Assert.Equal(1, Sum("audittrail.ingest.events", ("audittrail.door", "http"), ("audittrail.outcome", "rejected"), ("audittrail.code", "invalid_actor_type")));
        Assert.Equal(1, Sum("audittrail.ingest.events", ("audittrail.door", "eventhub"), ("audittrail.outcome", "accepted")));
        Assert.Equal(1, Sum("audittrail.ingest.events", ("audittrail.door", "eventhub"), ("audittrail.outcome", "duplicate")));
        Assert.Equal(0, Sum("audittrail.ingest.events", ("audittrail.door", "eventhub"), ("audittrail.outcome", "rejected")));
        Assert.Equal(1, Sum("audittrail.deadletters", ("audittrail.door", "http"), ("audittrail.code", "invalid_actor_type")));
        Assert.Equal(receiver.Requests, Sum("audittrail.forward.calls", ("audittrail.outcome", "delivered"), ("audittrail.status_class", "2xx")));
        Assert.Equal(receiver.Requests, Sum("audittrail.forward.calls"));
        Assert.Equal(receiver.AcceptedCalls.Count, Sum("audittrail.forward.events"));
        var lag = Assert.Single(Points(metrics, "audittrail.forward.lag"));
        Assert.Equal(receiver.AcceptedCalls.Count, lag.GetHistogramCount());
        Assert.InRange(lag.GetHistogramSum(), 0.0, 600.0 * receiver.AcceptedCalls.Count);
        Assert.True(lag.TryGetHistogramMinMaxValues(out var lagMin, out var lagMax) && lagMin >= 0 && lagMax < 600, $"lag {lagMin}..{lagMax} s");

        var all = spans.ToList();
        Activity Server(string name) => Assert.Single(all, a => a.Kind == ActivityKind.Server && a.DisplayName == name && HasDescendant(all, a, _ => true) && Within(a, ws, all));
        var httpIngest = Server("POST /api/workspaces/{workspaceId}/audit-events");
        Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.Data.Tables", StringComparison.Ordinal) && IsUnder(all, a, httpIngest));
        Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.Storage.Blobs", StringComparison.Ordinal) && IsUnder(all, a, httpIngest)); // the dead letter
        var hubIngest = Assert.Single(all, a => a.Kind == ActivityKind.Server && a.DisplayName == "IngestAuditEvents");
        Assert.Equal("pubsub", hubIngest.GetTagItem("faas.trigger"));
        Assert.Equal(invocationId.ToString(), hubIngest.GetTagItem("faas.invocation_id"));
        Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.Data.Tables", StringComparison.Ordinal) && IsUnder(all, a, hubIngest));
        var search = Server("GET /api/workspaces/{workspaceId}/audit-events");
        Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.Data.Tables", StringComparison.Ordinal) && IsUnder(all, a, search));
        var forwardSpans = all.Where(a => a.Kind == ActivityKind.Server && a.DisplayName == "ForwardAuditEvents").ToList();
        Assert.Equal(forwards, forwardSpans.Count);
        // Each call to the source: a client span under its invocation, its URL cut to the host.
        var calls = all.Where(a => a.Source.Name == "System.Net.Http" && forwardSpans.Any(f => IsUnder(all, a, f))).ToList();
        Assert.Equal(receiver.Requests, calls.Count);
        Assert.All(calls, c => Assert.Equal(receiver.Endpoint.GetLeftPart(UriPartial.Authority) + "/…", c.GetTagItem("url.full")));
        Assert.All(forwardSpans, f => Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.", StringComparison.Ordinal) && IsUnder(all, a, f)));
        // The storage SDK's own HTTP spans stand for its requests: no HttpClient span repeats one.
        Assert.DoesNotContain(all, a => a.Source.Name == "System.Net.Http" && a.Parent?.Source.Name == "Azure.Core.Http");

        var secrets = new List<string> { token, receiver.WriteKey, Convert.ToBase64String(Encoding.UTF8.GetBytes(receiver.WriteKey + ":")), unique };
        var text = Serialize(all) + "\n" + string.Join("\n", metrics.SelectMany(m => m.MetricPoints.SelectMany(p => Tags(p).Select(t => $"{m.Name} {t.Key}={t.Value}"))));
        Assert.All(secrets, s => Assert.DoesNotContain(s, text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_standalone_poller_traces_each_message_as_its_function()
    {
        var spans = new List<Activity>();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string>
        {
            ["AuditTrail:Telemetry:Enabled"] = "true",
            ["AuditTrail:Forwarding:AllowHttpEndpoints"] = "true",
            ["AuditTrail:Forwarding:SettingsCacheDuration"] = "00:00:00",
        }, services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        await using var receiver = await TrackingReceiver.StartAsync("wk_" + Guid.NewGuid().ToString("N"), Ct);
        var put = Request(HttpMethod.Put, $"/api/workspaces/{ws}/settings/audit-forwarding", token);
        put.Content = JsonContent.Create(new { enabled = true, writeKey = receiver.WriteKey, endpoint = receiver.Endpoint.ToString() });
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(put, Ct)).StatusCode);

        var forwarder = app.Services.GetRequiredService<AuditTrail.Functions.FunctionsHost.StandaloneQueuePoller<ForwardFunction>>();
        for (var i = 0; i < 100 && receiver.Requests == 0; i++)
        {
            await forwarder.PollOnceAsync(Ct);
        }

        app.Services.GetRequiredService<TracerProvider>().ForceFlush();
        var all = spans.ToList();
        var polled = all.Where(a => a.Source.Name == "AuditTrail" && a.DisplayName == "ForwardAuditEvents").ToList();
        Assert.NotEmpty(polled);
        Assert.All(polled, p => Assert.Equal("pubsub", p.GetTagItem("faas.trigger")));
        // The one that reached this test's source: a root span, its storage and HTTP calls under it.
        var delivered = Assert.Single(polled, p => all.Any(a => a.Source.Name == "System.Net.Http" && IsUnder(all, a, p)
                                                             && a.GetTagItem("url.full") is string u && u.StartsWith(receiver.Endpoint.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal)));
        Assert.Null(delivered.Parent);
        Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.Storage.Queues", StringComparison.Ordinal) && IsUnder(all, a, delivered));
        Assert.Contains(all, a => a.Source.Name.StartsWith("Azure.Data.Tables", StringComparison.Ordinal) && IsUnder(all, a, delivered));
    }

    [Fact]
    public async Task An_export_counts_its_rows_and_duration_once()
    {
        var metrics = new List<MetricSnapshot>();
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString, settings: new Dictionary<string, string> { ["AuditTrail:Telemetry:Enabled"] = "true" },
            services: s => s.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(metrics)));
        using var http = app.CreateClient();
        var ws = TestEvents.NewWorkspaceId();
        var (_, token) = await app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Owner, null, "test", Ct);
        var post = Request(HttpMethod.Post, $"/api/workspaces/{ws}/audit-events", token);
        post.Content = new StringContent(TestEvents.Array(TestEvents.Event(ws), TestEvents.Event(ws), TestEvents.Event(ws)), Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(post, Ct)).StatusCode);
        var accepted = await http.SendAsync(Request(HttpMethod.Post, $"/api/workspaces/{ws}/exports?type=Source%20Disabled", token), Ct);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetString()!;

        var done = await AuditTrail.Tests.Export.ExportRuns.CompleteAsync(app.Services, ws, id, Ct);
        Assert.Equal("succeeded", done.Status);
        app.Services.GetRequiredService<MeterProvider>().ForceFlush();

        Assert.Equal(1, Points(metrics, "audittrail.exports").Where(p => Tags(p)["audittrail.outcome"] == "succeeded").Sum(p => p.GetSumLong()));
        Assert.Equal(3, Points(metrics, "audittrail.export.rows").Sum(p => p.GetSumLong()));
        var duration = Assert.Single(Points(metrics, "audittrail.export.duration"));
        Assert.Equal(1, duration.GetHistogramCount());
        Assert.InRange(duration.GetHistogramSum(), 0.0, 600.0);
    }

    [Theory]
    [InlineData("http://127.0.0.1:10002/devstoreaccount1/AuditEvents(PartitionKey='ws_1',RowKey='p_evt-secret')", true, "http://127.0.0.1:10002/devstoreaccount1/AuditEvents/…")]
    [InlineData("https://acct.table.core.windows.net/AuditEventIds(PartitionKey='ws_1',RowKey='evt-secret')?$select=x", true, "https://acct.table.core.windows.net/AuditEventIds/…")]
    [InlineData("https://acct.blob.core.windows.net/audit-exports/2026/12/02/ws_1/secret.csv?sig=abc", true, "https://acct.blob.core.windows.net/audit-exports/…")]
    [InlineData("https://acct.table.core.windows.net/Tables", true, "https://acct.table.core.windows.net/Tables")]
    [InlineData("https://user:pass@hooks.example.com/secret-path/v1/batch", false, "https://hooks.example.com/…")]
    [InlineData("not a url", false, "[redacted]")]
    public void Urls_in_spans_keep_the_service_and_resource_only(string url, bool storage, string expected) =>
        Assert.Equal(expected, AuditTrail.Functions.Hosting.TelemetryRedaction.Url(url, storage));

    [Theory]
    [InlineData("Authorization=AAD;ClientId=00000000-0000-0000-0000-000000000001", true)]
    [InlineData(" authorization=aad ", true)]
    [InlineData("ClientId=x", false)]
    [InlineData(null, false)]
    public void Entra_id_export_is_chosen_by_the_authentication_string(string? value, bool expected) =>
        Assert.Equal(expected, AuditTrail.Functions.Hosting.TelemetryHosting.UsesEntraId(value));

    [Fact]
    public async Task Without_a_connection_string_or_the_setting_nothing_is_collected()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        Assert.Null(app.Services.GetService<TracerProvider>());
        Assert.Null(app.Services.GetService<MeterProvider>());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/status", Ct)).StatusCode);
    }

    [Fact]
    public void With_a_connection_string_and_AAD_the_exporter_signs_in_with_the_apps_credential()
    {
        // Built, never started: no exporter is created, so nothing tries the network.
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder();
        builder.Configuration["AuditStorage"] = azurite.ConnectionString;
        builder.Configuration[AuditTrail.Functions.Hosting.TelemetryHosting.ConnectionStringSetting] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/";
        builder.Configuration[AuditTrail.Functions.Hosting.TelemetryHosting.AuthenticationStringSetting] = "Authorization=AAD;ClientId=00000000-0000-0000-0000-000000000001";
        AuditTrail.Core.AuditTrailCoreServiceCollectionExtensions.AddAuditTrailCore(builder.Services, builder.Configuration);
        builder.AddAuditTrailTelemetry();
        using var services = builder.Services.BuildServiceProvider();

        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<Azure.Monitor.OpenTelemetry.AspNetCore.AzureMonitorOptions>>()
            .Get(Microsoft.Extensions.Options.Options.DefaultName);
        Assert.Same(services.GetRequiredService<Azure.Core.TokenCredential>(), options.Credential);
        Assert.StartsWith("InstrumentationKey=", options.ConnectionString, StringComparison.Ordinal);
    }

    /// <summary>Takes this workspace's forward messages off the queue and hands each to <c>POST /ForwardAuditEvents</c> as the host would.</summary>
    private static async Task<int> ForwardAsHostAsync(AuditTrailAppFactory app, HttpClient http, string ws)
    {
        var queue = app.Services.GetRequiredService<ForwardingOutbox>().Queue;
        var handled = 0;
        for (var round = 0; round < 50; round++)
        {
            var messages = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5), Ct)).Value;
            if (messages.Length == 0)
            {
                break;
            }
            foreach (var m in messages)
            {
                var text = QueueMessages.DecodeBase64(m.Body.ToString());
                if (text is null || !text.Contains(ws, StringComparison.Ordinal))
                {
                    continue; // another test's: back on the queue when its visibility ends
                }
                var payload = new JsonObject
                {
                    ["Data"] = new JsonObject { [ForwardingApi.QueueBinding] = JsonSerializer.Serialize(text) },
                    ["Metadata"] = new JsonObject { ["DequeueCount"] = m.DequeueCount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Id"] = m.MessageId },
                };
                var response = await http.PostAsync("/" + ForwardingApi.QueueFunction, new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"), Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await queue.DeleteMessageAsync(m.MessageId, m.PopReceipt, Ct);
                handled++;
            }
        }
        return handled;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string token)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static IEnumerable<MetricPoint> Points(List<MetricSnapshot> metrics, string name)
    {
        // Cumulative: the last export of a metric holds its totals.
        var last = metrics.LastOrDefault(m => m.Name == name);
        return last is null ? [] : last.MetricPoints;
    }

    private static Dictionary<string, string> Tags(MetricPoint point)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in point.Tags)
        {
            tags[tag.Key] = tag.Value?.ToString() ?? string.Empty;
        }
        return tags;
    }

    private static bool IsUnder(List<Activity> all, Activity span, Activity ancestor)
    {
        var byId = all.ToDictionary(a => a.SpanId);
        for (var current = span; current.ParentSpanId != default && byId.TryGetValue(current.ParentSpanId, out var parent); current = parent)
        {
            if (parent.SpanId == ancestor.SpanId)
            {
                return true;
            }
        }
        return false;
    }

    private static bool HasDescendant(List<Activity> all, Activity span, Func<Activity, bool> match) => all.Any(a => match(a) && IsUnder(all, a, span));

    /// <summary>This test's request: its route path names the workspace (acceptable: tenant metadata, not event content).</summary>
    private static bool Within(Activity span, string ws, List<Activity> all) => span.GetTagItem("url.path") is string path && path.Contains(ws, StringComparison.Ordinal);

    private static string Serialize(IEnumerable<Activity> spans)
    {
        var text = new StringBuilder();
        foreach (var a in spans)
        {
            text.Append(a.Source.Name).Append(' ').Append(a.DisplayName).Append(' ').Append(a.OperationName).Append(' ').Append(a.StatusDescription).Append('\n');
            foreach (var tag in a.TagObjects)
            {
                text.Append("  ").Append(tag.Key).Append('=').Append(tag.Value).Append('\n');
            }
            foreach (var e in a.Events)
            {
                text.Append("  event ").Append(e.Name).Append('\n');
                foreach (var tag in e.Tags)
                {
                    text.Append("    ").Append(tag.Key).Append('=').Append(tag.Value).Append('\n');
                }
            }
            foreach (var item in a.Baggage)
            {
                text.Append("  baggage ").Append(item.Key).Append('=').Append(item.Value).Append('\n');
            }
        }
        return text.ToString();
    }
}
