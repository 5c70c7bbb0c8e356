using System.Text.Json;
using AuditTrail.Core.Retention;
using AuditTrail.Core.Telemetry;
using AuditTrail.Functions.Hosting;
using NCrontab;

namespace AuditTrail.Functions.Retention;

/// <summary>
/// Standalone mode has no Functions host to fire the timer, so the app does, on the schedule in
/// the function's own function.json (the same file the host reads), parsed with NCrontab.Signed
/// as the host does. A failed run is logged and the next occurrence tries again; the purge is
/// idempotent and resumable, so nothing is lost by that.
/// </summary>
public sealed class StandaloneTimer(RetentionService retention, TimeProvider time, ILogger<StandaloneTimer> logger) : BackgroundService
{
    public static CrontabSchedule ReadSchedule(string functionJsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(functionJsonPath));
        var schedule = doc.RootElement.GetProperty("bindings").EnumerateArray()
            .Single(b => b.GetProperty("type").GetString() == "timerTrigger")
            .GetProperty("schedule").GetString()!;
        return CrontabSchedule.Parse(schedule, new CrontabSchedule.ParseOptions { IncludingSeconds = true });
    }

    public static string FunctionJsonPath => Path.Combine(AppContext.BaseDirectory, RetentionApi.TimerFunction, "function.json");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = ReadSchedule(FunctionJsonPath);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var next = schedule.GetNextOccurrence(now);
            logger.LogInformation("Next retention purge at {NextRun:u}", next);
            await Task.Delay(next - now, time, stoppingToken);
            using var activity = AuditTrailTelemetry.StartFunction(RetentionApi.TimerFunction, "timer");
            try
            {
                await retention.PurgeAsync(dryRun: false, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
                activity?.SetTag("error.type", ex.GetType().FullName);
                // Nothing may end the loop but the app stopping: a storage try timeout is a cancellation too.
                logger.LogError(ex, "Retention purge failed; the next run at the next occurrence will finish it");
            }
        }
    }
}

public static class StandaloneTimerExtensions
{
    /// <summary>Runs timer functions in-process when there is no Functions host (and <c>AuditTrail:Timers</c> is not false).</summary>
    public static IServiceCollection AddStandaloneTimers(this IServiceCollection services, IConfiguration configuration, HostingMode mode)
    {
        if (mode == HostingMode.Standalone && configuration.GetValue("AuditTrail:Timers", true))
        {
            services.AddHostedService<StandaloneTimer>();
            services.AddHostedService<Integrity.StandaloneSealTimer>();
        }
        return services;
    }
}
