using AuditTrail.Core.Integrity;
using AuditTrail.Functions.Retention;

namespace AuditTrail.Functions.Integrity;

/// <summary>
/// Standalone mode fires <c>SealAuditDigests</c> itself, on the schedule in its function.json, as
/// <see cref="StandaloneTimer"/> does the purge. A failed seal is logged; the next one seals the
/// same entries (a digest always starts where the previous one ended).
/// </summary>
public sealed class StandaloneSealTimer(DigestSealer sealer, TimeProvider time, ILogger<StandaloneSealTimer> logger) : BackgroundService
{
    public static string FunctionJsonPath => Path.Combine(AppContext.BaseDirectory, IntegrityApi.TimerFunction, "function.json");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = StandaloneTimer.ReadSchedule(FunctionJsonPath);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var next = schedule.GetNextOccurrence(now);
            logger.LogInformation("Next digest seal at {NextRun:u}", next);
            await Task.Delay(next - now, time, stoppingToken);
            try
            {
                var report = await sealer.SealAsync(null, stoppingToken);
                if (!report.Succeeded)
                {
                    logger.LogError("Digest seal left {Failed} workspaces unsealed ({Workspaces}); the next run tries them again",
                        report.Failed.Count, string.Join(", ", report.Failed.Select(f => f.WorkspaceId)));
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Digest seal failed; the next run seals the same entries");
            }
        }
    }
}
