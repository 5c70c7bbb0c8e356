using AuditTrail.Core.Trail;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>The trail's own records, whose ids have a random part a test cannot know beforehand.</summary>
public static class TrailRecords
{
    /// <summary>The id of the workspace's one record of <paramref name="kind"/> about <paramref name="subject"/>, read from its claim.</summary>
    public static async Task<string> IdAsync(IServiceProvider services, string workspaceId, string kind, string subject, CancellationToken ct)
    {
        var prefix = TrailRecordIds.Of(kind, subject + "-");
        return await services.GetRequiredService<TrailTables>().Claims.IdsStartingWithAsync(workspaceId, prefix, ct).SingleAsync(ct);
    }
}
