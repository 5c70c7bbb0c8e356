using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AuditTrail.Core.Access;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.TestSupport;

/// <summary>
/// The real app as <c>scripts/run</c> runs it: its own process, standalone mode, Kestrel on a free
/// loopback port, against the given storage. Used by the load run and by the shutdown tests, which
/// need real sockets and a real SIGTERM rather than the in-memory test server.
/// </summary>
public sealed class StandaloneApp : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private StandaloneApp(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What the app wrote to stdout and stderr so far (for failure messages).</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>An ingest token for a workspace, made as <c>tokens create</c> does: what a producer sends the app.</summary>
    public static async Task<string> IngestTokenAsync(RegisteredStorage clients, string workspaceId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var store = new TrailTables(clients.Tables, clients.Blobs);
        var ingestion = new IngestionService(store, new DeadLetterStore(store), TimeProvider.System, NullLogger<IngestionService>.Instance);
        return (await new AccessTokenService(clients.Tables, new ActionRecorder(ingestion, store, TimeProvider.System, NullLogger<ActionRecorder>.Instance), TimeProvider.System).CreateAsync(workspaceId, Roles.Ingest, null, "load run", ct)).Token;
    }

    /// <param name="settings">Extra configuration, by its configuration key (<c>AuditTrail:Timers</c>); passed as environment variables.</param>
    public static async Task<StandaloneApp> StartAsync(string storageConnectionString, IReadOnlyDictionary<string, string>? settings = null, CancellationToken cancellationToken = default)
    {
        var dll = typeof(HostingSettings).Assembly.Location;
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove(HostingSettings.PortVariable);
        start.Environment["AuditStorage"] = storageConnectionString;
        start.Environment["AuditTrail__Url"] = $"http://127.0.0.1:{port}";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the app.");
        var app = new StandaloneApp(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => app.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => app.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await app.WaitUntilReadyAsync(cancellationToken);
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }
        _output.Enqueue(line);
        while (_output.Count > 2000 && _output.TryDequeue(out _))
        {
            // Keep the tail only: a long run logs every batch.
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The app exited during start-up with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                using var ready = await http.GetAsync("/", cancellationToken);
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException("The app did not answer GET / within 60 s:\n" + Output);
    }

    /// <summary>
    /// Stops the app as a service manager or the Functions host does: SIGTERM, then waits for it to
    /// exit on its own. Returns its exit code; kills it only if it has not exited by <paramref name="hangGuard"/>.
    /// </summary>
    public async Task<int> StopAsync(TimeSpan hangGuard)
    {
        if (!_process.HasExited)
        {
            ProcessSignals.Terminate(_process);
            using var timeout = new CancellationTokenSource(hangGuard);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
                throw new TimeoutException($"The app did not stop within {hangGuard} of SIGTERM:\n{Output}");
            }
        }
        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
    }
}
