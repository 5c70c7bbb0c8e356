using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AuditTrail.Tests.Deployment;

/// <summary>What one run of the bicep CLI said.</summary>
internal sealed record BicepRun(int ExitCode, string Output, IReadOnlyList<string> Diagnostics)
{
    /// <summary>The run as a failure message: exit code and every diagnostic, one a line.</summary>
    public string Describe() => $"bicep exited {ExitCode}; {Diagnostics.Count} diagnostic(s):\n{string.Join('\n', Diagnostics)}";
}

/// <summary>
/// The bicep CLI from the <c>Azure.Bicep.CommandLine.linux-x64</c> package (restored with the test
/// project, its path compiled in as assembly metadata), and <c>infra/main.bicep</c> compiled by it
/// once per test run.
/// </summary>
internal static partial class BicepCli
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    private static readonly Lazy<(BicepRun Run, JsonElement? Template)> Compiled = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string MainBicep => Path.Combine(AppLayout.Root, "infra", "main.bicep");

    public static string Executable
    {
        get
        {
            var path = typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BicepPath").Value!;
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The bicep CLI is not at {path}: run 'dotnet restore' (package Azure.Bicep.CommandLine.linux-x64).", path);
            }
            EnsureExecutable(path);
            return path;
        }
    }

    /// <summary>
    /// NuGet extracts package files with the mode its client version chooses; the clients used here
    /// keep the owner's execute bit, but a restore that drops it would leave a CLI that cannot
    /// start. The file is the package's own, so giving it back its run bit changes nothing else.
    /// </summary>
    internal static void EnsureExecutable(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var mode = File.GetUnixFileMode(path);
        if (!mode.HasFlag(UnixFileMode.UserExecute))
        {
            File.SetUnixFileMode(path, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>The compile of <c>infra/main.bicep</c> shared by every test in the run.</summary>
    public static BicepRun Build => Compiled.Value.Run;

    /// <summary>The ARM template bicep compiled from <c>infra/main.bicep</c>; a failed compile fails the caller with bicep's diagnostics.</summary>
    public static JsonElement Template => Compiled.Value.Template ?? throw new InvalidOperationException("infra/main.bicep did not compile. " + Build.Describe());

    /// <summary>
    /// Runs bicep with <paramref name="arguments"/>. <c>--no-restore</c> belongs with every command that
    /// takes it: the template uses no registry modules, and a run must not reach for one.
    /// </summary>
    public static BicepRun Run(params string[] arguments)
    {
        var start = new ProcessStartInfo(Executable, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.Combine(AppLayout.Root, "infra"),
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(RunTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within {RunTimeout}.");
        }
        process.WaitForExit();
        // Everything on standard error counts (bicep is silent there when all is well), and any
        // diagnostic line on standard output.
        var diagnostics = stderr.Result.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0)
            .Concat(stdout.Result.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => Diagnostic().IsMatch(l)))
            .Distinct()
            .ToList();
        return new BicepRun(process.ExitCode, stdout.Result, diagnostics);
    }

    private static (BicepRun, JsonElement?) Compile()
    {
        // Compiled to a directory of its own, read, and removed: the ARM JSON is never a file of the repository.
        var directory = Directory.CreateTempSubdirectory("audittrail-bicep-");
        try
        {
            var output = Path.Combine(directory.FullName, "main.json");
            var run = Run("build", MainBicep, "--outfile", output, "--no-restore");
            JsonElement? template = run.ExitCode == 0 && File.Exists(output)
                ? JsonDocument.Parse(File.ReadAllText(output)).RootElement.Clone()
                : null;
            return (run, template);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>bicep's diagnostic lines: <c>file(line,col) : Warning|Error|Info code: message</c>.</summary>
    [GeneratedRegex(@"\(\d+,\d+\) : (Error|Warning|Info) ")]
    private static partial Regex Diagnostic();
}
