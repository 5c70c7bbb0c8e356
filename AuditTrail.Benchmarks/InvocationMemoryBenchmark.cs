using System.Text;
using System.Text.Json;

namespace AuditTrail.Benchmarks;

/// <summary>
/// Peak memory of the app answering the largest Event Hubs invocation the host sends: 100
/// messages of 1 MB, each too large to be an event, so each is dead-lettered as it came. The app
/// runs as its own process (as under the host), a new one each round, and the figure is its peak resident memory
/// (<c>VmHWM</c>, reset before each invocation through <c>/proc/pid/clear_refs</c>) above what it
/// held just before; reported against the payload's size and beside a baseline measured in the
/// same run and process, a batch of 100 small events.
/// </summary>
public static class InvocationMemoryBenchmark
{
    public static async Task<JsonObject> RunAsync(string storageConnectionString, int messages, int messageBytes, int rounds, TextWriter log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The invocation benchmark reads peak memory from /proc (Linux).");
        }
        var ws = $"bench_invocation_{Guid.NewGuid():N}"[..40];
        var large = new List<long>();
        var small = new List<long>();
        long largePayload = 0;
        for (var round = 0; round < rounds; round++)
        {
            // A fresh process each round: a process that answered a large invocation before keeps
            // that memory reserved, and its next peak would hide inside it.
            await using var app = await StandaloneApp.StartAsync(storageConnectionString, new Dictionary<string, string>
            {
                ["AuditTrail:InvocationEndpoints"] = "true",
                ["AuditTrail:Timers"] = "false",
                ["AuditTrail:Forwarding:PollQueue"] = "false",
            }, ct);
            using var http = new HttpClient { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
            // The baseline warms the process too (JIT, storage connections, tables created).
            small.Add(await PeakGrowthAsync(app.ProcessId, http, Invocation(ws, $"r{round}s", messages, 400), ct));
            var largeBytes = Invocation(ws, $"r{round}l", messages, messageBytes);
            largePayload = largeBytes.Length;
            large.Add(await PeakGrowthAsync(app.ProcessId, http, largeBytes, ct));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round + 1}: {messages} x {messageBytes / 1e6:F1} MB ({largePayload / 1e6:F1} MB payload): peak +{large[^1] / 1e6:F0} MB; {messages} small events: peak +{small[^1] / 1e6:F1} MB"));
        }
        var medianLarge = large.Order().ElementAt(large.Count / 2);
        var medianSmall = small.Order().ElementAt(small.Count / 2);
        return new JsonObject
        {
            ["messages"] = messages,
            ["messageBytes"] = messageBytes,
            ["payloadBytes"] = largePayload,
            ["peakGrowthBytes"] = new JsonArray([.. large.Select(v => (JsonNode)v)]),
            ["baselinePeakGrowthBytes"] = new JsonArray([.. small.Select(v => (JsonNode)v)]),
            ["medianPeakGrowthBytes"] = medianLarge,
            ["medianBaselinePeakGrowthBytes"] = medianSmall,
            ["ratioToPayload"] = Math.Round((double)medianLarge / largePayload, 2),
        };
    }

    /// <summary>How far the process's resident memory rose above its level before the invocation, at its peak.</summary>
    private static async Task<long> PeakGrowthAsync(int pid, HttpClient http, byte[] payload, CancellationToken ct)
    {
        await File.WriteAllTextAsync($"/proc/{pid}/clear_refs", "5", ct); // peak := current
        var before = Status(pid, "VmRSS:");
        using var content = new ByteArrayContent(payload);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(new Uri("/IngestAuditEvents", UriKind.Relative), content, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The invocation failed: {(int)response.StatusCode} {body}");
        }
        return Status(pid, "VmHWM:") - before;
    }

    private static long Status(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The host's payload for a batch: message bodies as a JSON array in a JSON string, as the host encodes string[].</summary>
    private static byte[] Invocation(string workspaceId, string prefix, int messages, int messageBytes)
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture);
        var bodies = Enumerable.Range(0, messages).Select(i =>
        {
            var e = new JsonObject
            {
                ["id"] = $"{prefix}_{i:D4}",
                ["workspaceId"] = workspaceId,
                ["type"] = "Source Modified",
                ["timestamp"] = now,
                ["actor"] = new JsonObject { ["type"] = "user", ["id"] = "usr_1" },
                ["resource"] = new JsonObject { ["type"] = "source", ["id"] = "src_1" },
                ["properties"] = new JsonObject { ["note"] = "" },
            }.ToJsonString();
            var pad = Math.Max(0, messageBytes - e.Length);
            return e.Replace("\"note\":\"\"", "\"note\":\"" + new string('x', pad) + "\"", StringComparison.Ordinal);
        }).ToList();
        var payload = new JsonObject
        {
            ["Data"] = new JsonObject { ["events"] = JsonSerializer.Serialize(bodies) },
            ["Metadata"] = new JsonObject
            {
                ["PartitionContext"] = new JsonObject { ["PartitionId"] = "0" },
                ["SequenceNumberArray"] = JsonSerializer.Serialize(Enumerable.Range(0, messages)),
            },
        };
        return Encoding.UTF8.GetBytes(payload.ToJsonString());
    }
}
