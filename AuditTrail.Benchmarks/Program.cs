using System.Globalization;
using System.Text.Json;
using AuditTrail.Benchmarks;
using AuditTrail.Core.Storage;

// usage: AuditTrail.Benchmarks purge [--events N] [--workspaces W] [--rounds R] [--out FILE]
//        AuditTrail.Benchmarks export [--sizes 10000,100000] [--writer-sizes 10000,100000,1000000] [--rounds R] [--out FILE]
// Storage: AUDITTRAIL_BENCH_STORAGE (scripts/bench sets it), else UseDevelopmentStorage=true.
if (args.Length == 0 || args[0] is not ("purge" or "export"))
{
    Console.Error.WriteLine("usage: AuditTrail.Benchmarks purge [--events N] [--workspaces W] [--rounds R] [--out FILE]\n       AuditTrail.Benchmarks export [--sizes 10000,100000] [--writer-sizes 10000,100000,1000000] [--rounds R] [--out FILE]");
    return 2;
}
int Option(string name, int fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
var outFile = Array.IndexOf(args, "--out") is var o and >= 0 && o + 1 < args.Length ? args[o + 1] : $"artifacts/bench/{args[0]}.json";

var connection = Environment.GetEnvironmentVariable("AUDITTRAIL_BENCH_STORAGE") ?? "UseDevelopmentStorage=true";
using var clients = new StorageClients(StorageAccount.Parse(connection), new StorageRetryOptions());
List<int> Sizes(string name, string fallback) =>
    (Array.IndexOf(args, name) is var z and >= 0 && z + 1 < args.Length ? args[z + 1] : fallback)
    .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToList();
var result = args[0] == "purge"
    ? await PurgeBenchmark.RunAsync(clients, Option("--events", 10_000), Option("--workspaces", 4), Option("--rounds", 3), Console.Out, CancellationToken.None)
    : await ExportMemoryBenchmark.RunAsync(clients, Sizes("--sizes", "10000,100000"), Sizes("--writer-sizes", "10000,100000,1000000"), Option("--rounds", 3), Console.Out, CancellationToken.None);

Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
await File.WriteAllTextAsync(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine(args[0] == "purge"
    ? $"median ratio purge/raw: {(double)result["medianRatio"]!:F2} (target >= 0.8); written to {outFile}"
    : $"live peak (steady) ratios to the smallest size: end to end {Ratios("endToEnd")}; writer {Ratios("writer")}; written to {outFile}");
return 0;

string Ratios(string kind) => string.Join(", ", result[kind]!.AsArray().Select(r => string.Create(CultureInfo.InvariantCulture,
    $"{(double)r!["livePeakRatioToSmallest"]!:F2} ({(double)r["liveSteadyRatioToSmallest"]!:F2})")));
