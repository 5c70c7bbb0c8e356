using System.CommandLine;
using System.Globalization;
using AuditTrail.Core.Integrity;

namespace AuditTrail.Functions.Integrity;

/// <summary><c>integrity verify --workspace &lt;ws&gt; [--start &lt;time&gt;] [--end &lt;time&gt;]</c> and <c>integrity seal [--workspace &lt;ws&gt;]</c>.</summary>
public static class IntegrityCommand
{
    public const string Usage = """
        usage:
          integrity verify --workspace <id> [--start <ISO 8601>] [--end <ISO 8601>]   exit 0 only when intact, 3 when not
          integrity seal [--workspace <id>]                                          seal now (every workspace, or one); exit 4 when one failed
        """;

    /// <summary>Exit code of a verification that found something wrong.</summary>
    public const int NotIntact = 3;

    /// <summary>Exit code of a seal run that could not seal some workspace (the others were sealed).</summary>
    public const int SealFailed = 4;

    public static Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        Hosting.CommandLine.InvokeAsync(Create(services), args, output, error, cancellationToken);

    internal static Command Create(IServiceProvider services)
    {
        var one = Hosting.CommandOptions.Workspace(required: false);
        var seal = new Command("seal", "seal now, every workspace or one") { one };
        seal.SetAction((parsed, ct) => SealAsync(services, parsed.GetValue(one), parsed.InvocationConfiguration, ct));
        var workspace = Hosting.CommandOptions.Workspace(required: true);
        var start = Hosting.CommandOptions.Instant("--start");
        var end = Hosting.CommandOptions.Instant("--end");
        var verify = new Command("verify", "verify a workspace's trail against its digests") { workspace, start, end };
        verify.SetAction((parsed, ct) => VerifyAsync(services, parsed, parsed.GetRequiredValue(workspace), parsed.GetValue(start), parsed.GetValue(end), ct));
        return new Command("integrity", "seal and verify the trail") { verify, seal };
    }

    private static async Task<int> SealAsync(IServiceProvider services, string? workspace, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        // A workspace's failure (its digest's record not stored included) is in report.Failed;
        // anything else (the registry unreadable) is CommandLine's one-line error and exit 1.
        var report = await services.GetRequiredService<DigestSealer>().SealAsync(workspace, cancellationToken);
        foreach (var d in report.Digests)
        {
            await console.Output.WriteLineAsync($"sealed  {d.Payload.WorkspaceId}  #{d.Payload.Sequence}  {d.Payload.Start} .. {d.Payload.End}  {d.Payload.Count} events");
        }
        foreach (var f in report.Failed)
        {
            await console.Error.WriteLineAsync($"failed  {f.WorkspaceId}  {f.Reason}");
        }
        await console.Output.WriteLineAsync(Describe(report));
        return report.Succeeded ? 0 : SealFailed;
    }

    public static string Describe(SealReport r) => r.Succeeded
        ? string.Create(CultureInfo.InvariantCulture, $"Sealed {r.Digests.Count} digests; every workspace is sealed through {DigestPayload.Time(r.SealedThrough)}.")
        : string.Create(CultureInfo.InvariantCulture,
            $"Sealed {r.Digests.Count} digests through {DigestPayload.Time(r.SealedThrough)}; {r.Failed.Count} workspaces FAILED and are left for the next run: {string.Join(", ", r.Failed.Select(f => f.WorkspaceId))}.");

    private static async Task<int> VerifyAsync(IServiceProvider services, ParseResult parsed, string workspace, DateTimeOffset? start, DateTimeOffset? end, CancellationToken cancellationToken)
    {
        var output = parsed.InvocationConfiguration.Output;
        var error = parsed.InvocationConfiguration.Error;
        VerificationReport report;
        try
        {
            report = await services.GetRequiredService<IntegrityService>().VerifyAsync(workspace, start, end, cancellationToken);
        }
        catch (IntegrityRangeException ex)
        {
            return Hosting.CommandLine.Refuse(parsed, ex.Message);
        }
        // On stderr: what is on stdout is the report, which this does not change.
        if (await services.GetRequiredService<IntegrityService>().DigestRetentionAsync(cancellationToken) is not true)
        {
            await error.WriteLineAsync($"warning: container {IntegrityStore.DigestContainer} has no time-based retention policy (or it could not be read): anyone who can write the storage account can rewrite or delete digests. Set and lock it (docs/deploy.md).");
        }
        foreach (var f in report.Modified)
        {
            await output.WriteLineAsync($"modified    {f.EventId}  {f.Detail}");
        }
        foreach (var f in report.Misplaced)
        {
            await output.WriteLineAsync($"misplaced   {f.EventId}  {f.Detail}");
        }
        foreach (var f in report.Missing)
        {
            await output.WriteLineAsync($"missing     {f.EventId}  {f.Detail}");
        }
        foreach (var f in report.Unrecorded)
        {
            await output.WriteLineAsync($"unrecorded  {f.EventId}  {f.Detail}");
        }
        foreach (var f in report.DigestProblems)
        {
            await output.WriteLineAsync($"{f.Code,-11} digest {f.Sequence?.ToString(CultureInfo.InvariantCulture) ?? "-"}  {f.Detail}");
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{(report.Intact ? "Intact" : "NOT INTACT")}: {report.WorkspaceId} from {DigestPayload.Time(report.Start)} to {DigestPayload.Time(report.End)}: {report.Events} events in {report.Digests} digests ({report.Pending} not sealed yet, {report.Purged} purged as recorded); last sealed {(report.LastSealedAt is { } at ? DigestPayload.Time(at) : "never")}."));
        return report.Intact ? 0 : NotIntact;
    }
}
