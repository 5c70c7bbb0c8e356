using AuditTrail.Core.Export;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Retention;
using AuditTrail.Functions.Export;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Integrity;
using AuditTrail.Functions.Retention;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>
/// Standalone mode's stand-ins for the host's non-HTTP triggers: the two timers and the two queue
/// pollers, chosen in one place. The pollers are registered in every mode (tests and the commands
/// drive them one poll at a time) and run by themselves only standalone.
/// </summary>
public static class StandaloneTriggers
{
    /// <summary>The retention purge: idempotent and resumable, so a failed run is finished by the next.</summary>
    public static TimerFunction RetentionPurge { get; } = new(RetentionApi.TimerFunction, "retention purge", async (services, _, cancellationToken) =>
    {
        await services.GetRequiredService<RetentionService>().PurgeAsync(dryRun: false, cancellationToken);
        return true;
    }, "Retention purge failed; the next run at the next occurrence will finish it");

    /// <summary>The digest seal: a digest always starts where the previous one ended, so a failed run is sealed by the next.</summary>
    public static TimerFunction DigestSeal { get; } = new(IntegrityApi.TimerFunction, "digest seal", async (services, logger, cancellationToken) =>
    {
        var report = await services.GetRequiredService<DigestSealer>().SealAsync(null, cancellationToken);
        if (!report.Succeeded)
        {
            logger.LogError("Digest seal left {Failed} workspaces unsealed ({Workspaces}); the next run tries them again",
                report.Failed.Count, string.Join(", ", report.Failed.Select(f => f.WorkspaceId)));
        }
        return report.Succeeded;
    }, "Digest seal failed; the next run seals the same entries");

    /// <summary>
    /// Runs the timers in-process when there is no Functions host (and <c>AuditTrail:Timers</c> is not
    /// false), and the queue pollers (unless <c>{section}:PollQueue</c> is false).
    /// </summary>
    public static IServiceCollection AddStandaloneTriggers(this IServiceCollection services, IConfiguration configuration, HostingMode mode)
    {
        if (mode == HostingMode.Standalone && configuration.GetValue("AuditTrail:Timers", true))
        {
            foreach (var timer in new[] { RetentionPurge, DigestSeal })
            {
                services.AddSingleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<StandaloneTimer>(sp, timer));
            }
        }
        services.AddQueuePoller<ForwardFunction>(configuration, ForwardingOptions.Section, mode);
        services.AddQueuePoller<ExportFunction>(configuration, ExportOptions.Section, mode);
        return services;
    }

    private static void AddQueuePoller<TFunction>(this IServiceCollection services, IConfiguration configuration, string section, HostingMode mode)
        where TFunction : class, IQueueFunction
    {
        services.AddSingleton<TFunction>();
        services.AddSingleton<StandaloneQueuePoller<TFunction>>();
        if (mode == HostingMode.Standalone && configuration.GetValue($"{section}:PollQueue", true))
        {
            services.AddHostedService(sp => sp.GetRequiredService<StandaloneQueuePoller<TFunction>>());
        }
    }
}
