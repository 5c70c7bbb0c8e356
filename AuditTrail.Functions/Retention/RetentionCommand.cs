using System.CommandLine;
using System.Globalization;
using AuditTrail.Core.Retention;

namespace AuditTrail.Functions.Retention;

/// <summary><c>retention purge [--dry-run]</c>: run the purge now, or report what it would remove.</summary>
public static class RetentionCommand
{
    public const string Usage = """
        usage:
          retention purge [--dry-run]
        """;

    public static Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        Hosting.CommandLine.InvokeAsync(Create(services), args, output, error, cancellationToken);

    internal static Command Create(IServiceProvider services)
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "report what the purge would remove, and remove nothing" };
        var purge = new Command("purge", "run the purge now") { dryRun };
        purge.SetAction((parsed, ct) => PurgeAsync(services, parsed.GetValue(dryRun), parsed.InvocationConfiguration.Output, ct));
        return new Command("retention", "the retention purge") { purge };
    }

    private static async Task<int> PurgeAsync(IServiceProvider services, bool dryRun, TextWriter output, CancellationToken cancellationToken)
    {
        var report = await services.GetRequiredService<RetentionService>().PurgeAsync(dryRun, cancellationToken);
        foreach (var p in report.Partitions)
        {
            await output.WriteLineAsync($"{(dryRun ? "would purge" : "purged")}  {p.WorkspaceId}  {p.Day:yyyy-MM-dd}  {p.EventRows} rows  {p.IdClaims} id claims");
        }
        await output.WriteLineAsync(Describe(report));
        return 0;
    }

    public static string Describe(PurgeReport r) => string.Create(CultureInfo.InvariantCulture,
        $"{(r.DryRun ? "Dry run: would remove" : "Removed")} {r.Partitions.Count} workspace-days before {r.FirstKeptDay:yyyy-MM-dd} (the first day kept, UTC): {r.EventRows} event rows, {r.IdClaims} id claims, {r.DeadLetterBlobs} dead-letter blobs, {r.ExportBlobs} export files.");
}
