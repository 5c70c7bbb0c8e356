using System.Globalization;
using System.Text.Json;
using AuditTrail.Benchmarks;
using AuditTrail.Core.Storage;

// usage: AuditTrail.Benchmarks purge [--events N] [--workspaces W] [--rounds R] [--out FILE]
// Storage: AUDITTRAIL_BENCH_STORAGE (scripts/bench sets it), else UseDevelopmentStorage=true.
if (args.Length == 0 || args[0] != "purge")
{
    Console.Error.WriteLine("usage: AuditTrail.Benchmarks purge [--events N] [--workspaces W] [--rounds R] [--out FILE]");
    return 2;
}
int Option(string name, int fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
var outFile = Array.IndexOf(args, "--out") is var o and >= 0 && o + 1 < args.Length ? args[o + 1] : "artifacts/bench/purge.json";

var connection = Environment.GetEnvironmentVariable("AUDITTRAIL_BENCH_STORAGE") ?? "UseDevelopmentStorage=true";
using var clients = new StorageClients(StorageAccount.Parse(connection), new StorageRetryOptions());
var result = await PurgeBenchmark.RunAsync(clients, Option("--events", 10_000), Option("--workspaces", 4), Option("--rounds", 3), Console.Out, CancellationToken.None);

Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
await File.WriteAllTextAsync(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"median ratio purge/raw: {(double)result["medianRatio"]!:F2} (target >= 0.8); written to {outFile}");
return 0;
