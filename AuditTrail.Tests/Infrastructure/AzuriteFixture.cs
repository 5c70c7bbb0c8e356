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
/// Tests isolate themselves by workspace id, so they share it safely in parallel; the one large
/// test takes a <see cref="PrivateAzuriteFixture"/> instead.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _own;

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
        _own = await AzuriteProcess.StartAsync();
        ConnectionString = _own.ConnectionString;
    }

    public ValueTask DisposeAsync()
    {
        _own?.Dispose();
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
}

/// <summary>
/// An Azurite of a test's own, in memory on free ports, for tests whose volume would slow every
/// other test down: Azurite answers each table query by scanning the whole table, so 500k rows in
/// the shared instance would make every later query test pay for them.
/// </summary>
public sealed class PrivateAzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _process;

    public string ConnectionString => _process?.ConnectionString ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _process = await AzuriteProcess.StartAsync();

    public ValueTask DisposeAsync()
    {
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>An in-memory Azurite process from the repository's node_modules, on OS-chosen ports.</summary>
public sealed partial class AzuriteProcess : IDisposable
{
    private readonly Process _process;

    private readonly Task _servicesClosed;

    private AzuriteProcess(Process process, Task servicesClosed, string connectionString)
    {
        _process = process;
        _servicesClosed = servicesClosed;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    /// <param name="location">A folder to keep data in, so it survives a stop and restart; in memory when null.</param>
    public static async Task<AzuriteProcess> StartAsync(string? location = null)
    {
        var root = AzuriteFixture.RepoRoot();
        var azurite = Path.Combine(root, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed: run 'npm ci' in {root} (or use scripts/test, which does it for you).");
        }
        var persistence = location is null ? "--inMemoryPersistence" : $"--location \"{location}\"";
        var start = new ProcessStartInfo(azurite, persistence + " --silent --skipApiVersionCheck --blobPort 0 --queuePort 0 --tablePort 0")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start Azurite.");
        try
        {
            var ports = new Dictionary<string, string>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (ports.Count < 3)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                           ?? throw new InvalidOperationException("Azurite exited during start-up: " + await process.StandardError.ReadToEndAsync(timeout.Token));
                var match = ListeningLine().Match(line);
                if (match.Success)
                {
                    ports[match.Groups[1].Value] = match.Groups[2].Value;
                }
            }
            // Keep draining output so Azurite never blocks on a full pipe; watch it for the end of a graceful stop.
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = WatchForClosedAsync(process.StandardOutput, closed);
            _ = process.StandardError.ReadToEndAsync();
            return new AzuriteProcess(process, closed.Task,
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                + "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                + $"BlobEndpoint=http://127.0.0.1:{ports["Blob"]}/devstoreaccount1;"
                + $"QueueEndpoint=http://127.0.0.1:{ports["Queue"]}/devstoreaccount1;"
                + $"TableEndpoint=http://127.0.0.1:{ports["Table"]}/devstoreaccount1;");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    private static async Task WatchForClosedAsync(StreamReader output, TaskCompletionSource closed)
    {
        var services = 0;
        while (await output.ReadLineAsync() is { } line)
        {
            if (line.Contains("successfully closed", StringComparison.Ordinal) && ++services == 3)
            {
                closed.TrySetResult();
            }
        }
        closed.TrySetResult();
    }

    /// <summary>
    /// Stops Azurite as an outage would, but with SIGTERM first so it saves its data (it keeps tables
    /// in memory and writes them to <c>--location</c> every few seconds and when its services close).
    /// Once all three say "successfully closed" the process is killed: Node often lingers after that.
    /// </summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            AuditTrail.Benchmarks.ProcessSignals.Terminate(_process);
            await _servicesClosed.WaitAsync(TimeSpan.FromSeconds(30));
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Azurite (Blob|Queue|Table) service is successfully listening at http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}
