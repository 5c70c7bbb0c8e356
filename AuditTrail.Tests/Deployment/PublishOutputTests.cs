using System.Diagnostics;
using System.IO.Compression;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Deployment;

/// <summary>What <c>scripts/publish</c> makes, published once for the class into a directory of its own.</summary>
public sealed class PublishedApp : IAsyncLifetime
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(10);

    private readonly DirectoryInfo parent = Directory.CreateTempSubdirectory("audittrail-publish-");

    public string Root => Path.Combine(parent.FullName, "app");

    public string Zip => Root + ".zip";

    public async ValueTask InitializeAsync()
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(AzuriteFixture.RepoRoot(), "scripts", "publish"), Root])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(PublishTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"scripts/publish did not finish within {PublishTimeout}.");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/publish exited {process.ExitCode}: {await stdout}\n{await stderr}");
        }
    }

    public ValueTask DisposeAsync()
    {
        parent.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The zip-deployable app root as <c>scripts/publish</c> makes it (self-contained, linux-x64), and
/// the zip Flex Consumption deploys.
/// </summary>
public sealed class PublishOutputTests(PublishedApp published) : IClassFixture<PublishedApp>
{
    private static string HandlerPath => AppLayout.HostJson.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString()!;

    [Fact]
    public void Publish_output_is_a_function_app_root_with_every_function_and_the_executable()
    {
        var dir = published.Root;

        Assert.True(File.Exists(Path.Combine(dir, "host.json")));
        var executable = Path.Combine(dir, HandlerPath);
        Assert.True(File.Exists(executable), $"{executable} is missing");
        if (!OperatingSystem.IsWindows())
        {
            Assert.True(File.GetUnixFileMode(executable).HasFlag(UnixFileMode.UserExecute), "the handler is not executable");
        }
        // Self-contained: the runtime travels with the app, whatever the plan's image has.
        Assert.True(File.Exists(Path.Combine(dir, "libcoreclr.so")) || File.Exists(Path.Combine(dir, "coreclr.dll")));

        var functions = AppLayout.Functions(dir);
        var source = AppLayout.Functions();
        Assert.Equal(source.Keys.Order(), functions.Keys.Order());
        foreach (var (name, function) in source)
        {
            Assert.Equal(function.GetRawText(), functions[name].GetRawText());
        }
        Assert.Equal(AppLayout.HostJson.GetRawText(), AppLayout.Json(Path.Combine(dir, "host.json")).GetRawText());
    }

    [Fact]
    public async Task The_zip_has_host_json_at_its_root_every_function_and_the_handler_with_its_run_bit()
    {
        await using var zip = await ZipFile.OpenReadAsync(published.Zip, TestContext.Current.CancellationToken);
        var entries = zip.Entries.Where(e => !e.FullName.EndsWith('/')).ToDictionary(e => e.FullName, StringComparer.Ordinal);

        // host.json at the root, not under a parent folder: the platform looks for it there.
        Assert.Contains("host.json", entries.Keys);
        Assert.All(AppLayout.Functions().Keys, name => Assert.Contains($"{name}/function.json", entries.Keys));
        // Every file of the app root, and nothing else.
        var files = Directory.EnumerateFiles(published.Root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(published.Root, f).Replace('\\', '/'));
        Assert.Equal(files.Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));

        // A Unix zip keeps st_mode in the high 16 bits of the external attributes: a regular file
        // (S_IFREG) that its owner, group and others may execute.
        var handler = entries[HandlerPath];
        var mode = (UnixFileMode)((handler.ExternalAttributes >> 16) & 0xFFF);
        var type = (handler.ExternalAttributes >> 16) & 0xF000;
        Assert.Equal(0x8000, type);
        Assert.True(mode.HasFlag(UnixFileMode.UserExecute) && mode.HasFlag(UnixFileMode.GroupExecute) && mode.HasFlag(UnixFileMode.OtherExecute),
            $"the handler's mode in the zip is {Convert.ToString((int)mode, 8)}");
        // Data files are not made executable on the way.
        var hostMode = (UnixFileMode)((entries["host.json"].ExternalAttributes >> 16) & 0xFFF);
        Assert.True(hostMode.HasFlag(UnixFileMode.UserRead) && !hostMode.HasFlag(UnixFileMode.OtherExecute), $"host.json's mode in the zip is {Convert.ToString((int)hostMode, 8)}");

        // The handler in the zip is the published one, byte for byte.
        await using var inZip = await handler.OpenAsync(TestContext.Current.CancellationToken);
        await using var onDisk = File.OpenRead(Path.Combine(published.Root, HandlerPath));
        Assert.Equal(Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(onDisk, TestContext.Current.CancellationToken)),
            Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(inZip, TestContext.Current.CancellationToken)));
    }
}
