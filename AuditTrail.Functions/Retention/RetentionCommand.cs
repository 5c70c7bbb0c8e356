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

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        if (args.ElementAtOrDefault(1) != "purge" || args.Skip(2).Any(a => a != "--dry-run"))
        {
            await error.WriteLineAsync("error: unknown retention command.\n" + Usage);
            return 2;
        }
        var dryRun = args.Contains("--dry-run");
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
