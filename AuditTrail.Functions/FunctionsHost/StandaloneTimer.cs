using System.Text.Json;
using AuditTrail.Core.Telemetry;
using NCrontab;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>
/// A timer function as standalone mode fires it: its name (the folder of its function.json, and its
/// span's name), what a run is called in the log, and the run, which says whether it succeeded.
/// </summary>
public sealed record TimerFunction(string Name, string Description, Func<IServiceProvider, ILogger, CancellationToken, Task<bool>> RunAsync, string FailureLog);

/// <summary>
/// Standalone mode has no Functions host to fire a timer, so the app does, on the schedule in the
/// function's own function.json (the same file the host reads), parsed with NCrontab.Signed as the
/// host does, each run in a span as the host's invocation would be. A failed run is logged and the
/// next occurrence tries again: every timer function here is idempotent and resumable.
/// </summary>
public sealed class StandaloneTimer(TimerFunction function, IServiceProvider services, TimeProvider time, ILogger<StandaloneTimer> logger) : BackgroundService
{
    public static CrontabSchedule ReadSchedule(string functionJsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(functionJsonPath));
        var schedule = doc.RootElement.GetProperty("bindings").EnumerateArray()
            .Single(b => b.GetProperty("type").GetString() == "timerTrigger")
            .GetProperty("schedule").GetString()!;
        return CrontabSchedule.Parse(schedule, new CrontabSchedule.ParseOptions { IncludingSeconds = true });
    }

    public static string FunctionJsonPath(string functionName) => Path.Combine(AppContext.BaseDirectory, functionName, "function.json");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = ReadSchedule(FunctionJsonPath(function.Name));
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var next = schedule.GetNextOccurrence(now);
            logger.LogInformation("Next {Timer} at {NextRun:u}", function.Description, next);
            await Task.Delay(next - now, time, stoppingToken);
            using var activity = AuditTrailTelemetry.StartFunction(function.Name, "timer");
            try
            {
                if (!await function.RunAsync(services, logger, stoppingToken))
                {
                    activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
                activity?.SetTag("error.type", ex.GetType().FullName);
                // Nothing may end the loop but the app stopping: a storage try timeout is a cancellation too.
                logger.LogError(ex, "{Failure}", function.FailureLog);
            }
        }
    }
}
