using System.Diagnostics;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Deployment;

/// <summary>
/// The zip-deployable app root as <c>scripts/publish</c> makes it (self-contained, linux-x64).
/// Uses AUDITTRAIL_PUBLISH_DIR when scripts/test has published already; otherwise publishes here.
/// </summary>
public sealed class PublishOutputTests
{
    [Fact]
    public async Task Publish_output_is_a_function_app_root_with_every_function_and_the_executable()
    {
        var dir = Environment.GetEnvironmentVariable("AUDITTRAIL_PUBLISH_DIR") is { Length: > 0 } given && Directory.Exists(given)
            ? given
            : await PublishAsync(TestContext.Current.CancellationToken);

        Assert.True(File.Exists(Path.Combine(dir, "host.json")));
        var executable = Path.Combine(dir, AppLayout.HostJson.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString()!);
        Assert.True(File.Exists(executable), $"{executable} is missing");
        if (!OperatingSystem.IsWindows())
        {
            Assert.True(File.GetUnixFileMode(executable).HasFlag(UnixFileMode.UserExecute), "the handler is not executable");
        }
        // Self-contained: the runtime travels with the app, whatever the plan's image has.
        Assert.True(File.Exists(Path.Combine(dir, "libcoreclr.so")) || File.Exists(Path.Combine(dir, "coreclr.dll")));

        var published = AppLayout.Functions(dir);
        var source = AppLayout.Functions();
        Assert.Equal(source.Keys.Order(), published.Keys.Order());
        foreach (var (name, function) in source)
        {
            Assert.Equal(function.GetRawText(), published[name].GetRawText());
        }
        Assert.Equal(AppLayout.HostJson.GetRawText(), AppLayout.Json(Path.Combine(dir, "host.json")).GetRawText());
    }

    private static async Task<string> PublishAsync(CancellationToken ct)
    {
        var output = Path.Combine(Path.GetTempPath(), "audittrail-publish-" + Guid.NewGuid().ToString("N")[..8]);
        var start = new ProcessStartInfo("dotnet", ["publish", Path.Combine(AppLayout.Root, "AuditTrail.Functions"), "-c", "Release", "-r", "linux-x64", "--self-contained", "-o", output, "--nologo", "-v", "q"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        Assert.True(process.ExitCode == 0, $"dotnet publish failed: {await stdout}\n{await stderr}");
        return output;
    }
}
