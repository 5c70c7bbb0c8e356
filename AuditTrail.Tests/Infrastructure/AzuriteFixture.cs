using System.Diagnostics;
using System.Text.RegularExpressions;
using AuditTrail.Core.Storage;
using AuditTrail.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(AzuriteFixture))]

namespace AuditTrail.Tests.Infrastructure;

/// <summary>
/// One Azurite for the whole test run. <c>scripts/test</c> starts it and passes the connection in
/// <c>AUDITTRAIL_TEST_STORAGE</c>; run from an IDE or plain <c>dotnet test</c>, the fixture starts
/// its own in-memory Azurite on free ports from the repository's node_modules and stops it after.
/// Tests isolate themselves by workspace id, so they share it safely in parallel.
/// </summary>
public sealed partial class AzuriteFixture : IAsyncLifetime
{
    private Process? _process;

    public string ConnectionString { get; private set; } = string.Empty;

    public StorageAccount Account => StorageAccount.Parse(ConnectionString);

    public async ValueTask InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable("AUDITTRAIL_TEST_STORAGE");
        if (!string.IsNullOrWhiteSpace(given))
        {
            ConnectionString = given;
            return;
        }

        var root = RepoRoot();
        var azurite = Path.Combine(root, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed: run 'npm ci' in {root} (or use scripts/test, which does it for you).");
        }
        var start = new ProcessStartInfo(azurite, "--inMemoryPersistence --silent --skipApiVersionCheck --blobPort 0 --queuePort 0 --tablePort 0")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start Azurite.");
        var ports = new Dictionary<string, string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (ports.Count < 3)
        {
            var line = await _process.StandardOutput.ReadLineAsync(timeout.Token)
                       ?? throw new InvalidOperationException("Azurite exited during start-up: " + await _process.StandardError.ReadToEndAsync(timeout.Token));
            var match = ListeningLine().Match(line);
            if (match.Success)
            {
                ports[match.Groups[1].Value] = match.Groups[2].Value;
            }
        }
        ConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                           + "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                           + $"BlobEndpoint=http://127.0.0.1:{ports["Blob"]}/devstoreaccount1;"
                           + $"QueueEndpoint=http://127.0.0.1:{ports["Queue"]}/devstoreaccount1;"
                           + $"TableEndpoint=http://127.0.0.1:{ports["Table"]}/devstoreaccount1;";
        // Keep draining output so Azurite never blocks on a full pipe.
        _ = _process.StandardOutput.ReadToEndAsync();
        _ = _process.StandardError.ReadToEndAsync();
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Storage clients with fast retries, so fault tests finish quickly.</summary>
    public StorageClients CreateClients(HttpMessageHandler? transport = null) =>
        new(Account, new StorageRetryOptions { MaxRetries = 2, Delay = TimeSpan.FromMilliseconds(20) }, transport: transport);

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuditTrail.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Could not find the repository root (AuditTrail.slnx) above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"Azurite (Blob|Queue|Table) service is successfully listening at http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}
