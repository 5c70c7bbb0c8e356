using System.Text.Json;
using AuditTrail.Core.Retention;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;

namespace AuditTrail.Functions.Retention;

public static class RetentionApi
{
    /// <summary>The timer function's name: its folder, and the path the host POSTs to.</summary>
    public const string TimerFunction = "PurgeExpiredAuditEvents";

    public static IEndpointRouteBuilder MapRetentionApi(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<HostingSettings>().InvocationEndpoints)
        {
            // The timer payload carries nothing the purge needs (IsPastDue only says it runs late), so it is not read.
            app.MapPost("/" + TimerFunction, async (RetentionService retention, CancellationToken ct) =>
            {
                var report = await retention.PurgeAsync(dryRun: false, ct);
                return TypedResults.Json(
                    new InvocationResponse(new Dictionary<string, JsonElement>(), [RetentionCommand.Describe(report)], null),
                    AuditTrailJsonContext.Default.InvocationResponse);
            }).ExcludeFromDescription();
        }
        return app;
    }
}
