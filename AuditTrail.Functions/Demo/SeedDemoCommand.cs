using System.CommandLine;
using AuditTrail.Core.Demo;

namespace AuditTrail.Functions.Demo;

/// <summary><c>seed-demo</c>: fills a workspace with the demo trail once (scripts/run does it for <c>ws_demo</c>).</summary>
public static class SeedDemoCommand
{
    public const string Usage = """
        usage:
          seed-demo [--workspace <id>]   a realistic 90-day demo trail, once (default workspace ws_demo)
        """;

    public const string DefaultWorkspace = "ws_demo";

    public static Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        Hosting.CommandLine.InvokeAsync(Create(services), args, output, error, cancellationToken);

    internal static Command Create(IServiceProvider services)
    {
        var workspace = Hosting.CommandOptions.Workspace(required: false, DefaultWorkspace);
        var command = new Command("seed-demo", "a realistic 90-day demo trail, once") { workspace };
        command.SetAction((parsed, ct) => SeedAsync(services, parsed.GetRequiredValue(workspace), parsed.InvocationConfiguration.Output, ct));
        return command;
    }

    private static async Task<int> SeedAsync(IServiceProvider services, string workspace, TextWriter output, CancellationToken cancellationToken)
    {
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
