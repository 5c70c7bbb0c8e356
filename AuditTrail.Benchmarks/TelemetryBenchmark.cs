using System.Diagnostics;
using AuditTrail.Core;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Telemetry;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace AuditTrail.Benchmarks;

/// <summary>
/// What tracing costs an ingest: the app's services with <see cref="TelemetryHosting.AddAuditTrailTelemetry"/>
/// collecting (every span, batched to an exporter that drops them, as Azure Monitor's batches them
/// to the network), each batch of <see cref="BatchSize"/> events under an invocation span as a host
/// invocation would be; against the same services and storage with OpenTelemetry's instrumentation
/// suppressed, so no span is created at all. (Listeners are process-wide, so a second app in the
/// same process could not be "off"; the meter's few measurements a batch are recorded on both
/// sides.) The two take turns, the order rotating each batch; the figure is the median of the
/// paired ratios (time traced ÷ time not).
/// </summary>
public static class TelemetryBenchmark
{
    public const int BatchSize = 500;

    public static async Task<JsonObject> RunAsync(string connection, int events, int rounds, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(log);
        await using var app = Build(connection);
        var ingestion = app.Services.GetRequiredService<IngestionService>();
        var sides = new[] { "off", "on" };
        var ratios = new List<double>();
        var totals = new Dictionary<string, TimeSpan> { ["off"] = TimeSpan.Zero, ["on"] = TimeSpan.Zero };
        for (var round = 0; round <= rounds; round++)
        {
            var size = round == 0 ? BatchSize * 2 : events; // round 0 warms up and is not counted
            var workspace = $"bench_telemetry_{Guid.NewGuid():N}"[..30];
            var batches = SampleEvents.Raw(size * 2, workspace).Chunk(BatchSize).ToList();
            for (var b = 0; b + 1 < batches.Count; b += 2)
            {
                var times = new Dictionary<string, TimeSpan>();
                foreach (var (name, batch) in (b / 2 % 2 == 0 ? sides : sides.Reverse()).Select((s, i) => (s, batches[b + i])))
                {
                    using var suppressed = name == "off" ? SuppressInstrumentationScope.Begin() : null;
                    var clock = Stopwatch.StartNew();
                    using (AuditTrailTelemetry.StartFunction("IngestAuditEvents", "pubsub"))
                    {
                        var result = await ingestion.IngestAsync(batch, new IngestContext(IngestDoors.EventHub), ct);
                        if (result.Accepted != batch.Length)
                        {
                            throw new InvalidOperationException($"{name}: {result.Accepted} of {batch.Length} accepted.");
                        }
                    }
                    times[name] = clock.Elapsed;
                }
                if (round > 0)
                {
                    ratios.Add(times["on"] / times["off"]);
                    totals["on"] += times["on"];
                    totals["off"] += times["off"];
                }
            }
            log.WriteLine($"round {round}: {size} events each");
        }
        app.Services.GetRequiredService<TracerProvider>().ForceFlush();
        ratios.Sort();
        return new JsonObject
        {
            ["benchmark"] = "telemetry",
            ["eventsPerSide"] = events * rounds,
            ["batchSize"] = BatchSize,
            ["medianRatio"] = ratios[ratios.Count / 2],
            ["ratioOfTotals"] = totals["on"] / totals["off"],
            ["spansExported"] = Discard.Spans,
            ["note"] = "time traced (app's spans and the storage SDK's, batched to an exporter that drops them) / the same with instrumentation suppressed; paired per batch",
        };
    }

    private static WebApplication Build(string connection)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["AuditStorage"] = connection;
        builder.Configuration[TelemetryHosting.EnabledSetting] = "true";
        builder.Services.AddAuditTrailCore(builder.Configuration);
        builder.AddAuditTrailTelemetry();
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddProcessor(new BatchActivityExportProcessor(new Discard())));
        builder.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddReader(new PeriodicExportingMetricReader(new DiscardMetrics(), 1000)));
        var app = builder.Build();
        // Not started (no listener is bound): resolving the providers is what the host's start would do.
        _ = app.Services.GetService<TracerProvider>();
        _ = app.Services.GetService<MeterProvider>();
        return app;
    }

    private sealed class Discard : BaseExporter<Activity>
    {
        private static long _spans;

        public static long Spans => Interlocked.Read(ref _spans);

        public override ExportResult Export(in Batch<Activity> batch)
        {
            Interlocked.Add(ref _spans, batch.Count);
            return ExportResult.Success;
        }
    }

    private sealed class DiscardMetrics : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch) => ExportResult.Success;
    }
}
