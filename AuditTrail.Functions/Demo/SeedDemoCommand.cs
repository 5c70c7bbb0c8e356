using AuditTrail.Core.Demo;
using AuditTrail.Core.Events;

namespace AuditTrail.Functions.Demo;

/// <summary><c>seed-demo</c>: fills a workspace with the demo trail once (scripts/run does it for <c>ws_demo</c>).</summary>
public static class SeedDemoCommand
{
    public const string Usage = """
        usage:
          seed-demo [--workspace <id>]   a realistic 90-day demo trail, once (default workspace ws_demo)
        """;

    public const string DefaultWorkspace = "ws_demo";

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var workspace = DefaultWorkspace;
        if (args.Length == 3 && args[1] == "--workspace")
        {
            workspace = args[2];
        }
        else if (args.Length != 1)
        {
            await error.WriteLineAsync("error: seed-demo takes only --workspace <id>.");
            await error.WriteLineAsync(Usage);
            return 2;
        }
        if (!WorkspaceIds.IsValid(workspace))
        {
            await error.WriteLineAsync($"error: {WorkspaceIds.Rule}");
            return 2;
        }
        var result = await services.GetRequiredService<DemoTrailSeeder>().SeedAsync(workspace, cancellationToken);
        if (result.AlreadySeeded)
        {
            await output.WriteLineAsync($"Workspace {workspace} already has the demo trail; nothing added.");
            return 0;
        }
        await output.WriteLineAsync($"Seeded workspace {workspace}: {result.Accepted} events added ({result.Duplicates} already there, {result.Rejected} refused).");
        return result.Rejected == 0 ? 0 : 1;
    }
}
