using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace AuditTrail.TestSupport;

/// <summary>An in-memory Azurite process from the repository's node_modules, on OS-chosen ports.</summary>
public sealed partial class AzuriteProcess : IDisposable
{
    private readonly Process _process;

    private readonly Task _servicesClosed;

    private AzuriteProcess(Process process, Task servicesClosed, string connectionString, string? tlsFolder)
    {
        _process = process;
        _servicesClosed = servicesClosed;
        ConnectionString = connectionString;
        _tlsFolder = tlsFolder;
    }

    /// <summary>Where the certificate and its private key were written for Azurite; deleted with it.</summary>
    private readonly string? _tlsFolder;

    public string ConnectionString { get; }

    /// <summary>The certificate Azurite serves https with, when it was started with OAuth; null otherwise.</summary>
    public X509Certificate2? Certificate { get; private init; }

    /// <summary>The blob, queue and table endpoints, as https when it was started with OAuth.</summary>
    public IReadOnlyDictionary<string, Uri> Endpoints { get; private init; } = new Dictionary<string, Uri>();

    /// <param name="location">A folder to keep data in, so it survives a stop and restart; in memory when null.</param>
    /// <param name="oauth">
    /// Accept Microsoft Entra bearer tokens, as Azure does under managed identity: Azurite's OAuth
    /// mode, which serves https (with a certificate made here) and checks a token's audience,
    /// issuer and lifetime but not its signature. Its table service takes no tokens.
    /// </param>
    public static async Task<AzuriteProcess> StartAsync(string? location = null, bool oauth = false)
    {
        var root = RepoRoot();
        var azurite = Path.Combine(root, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed: run 'npm ci' in {root} (or use scripts/test, which does it for you).");
        }
        var persistence = location is null ? "--inMemoryPersistence" : $"--location \"{location}\"";
        X509Certificate2? certificate = null;
        string? folder = null;
        if (oauth)
        {
            folder = Directory.CreateTempSubdirectory("audittrail-azurite-tls-").FullName;
            certificate = SelfSignedLoopbackCertificate(Path.Combine(folder, "cert.pem"), Path.Combine(folder, "key.pem"));
            persistence += $" --oauth basic --cert \"{Path.Combine(folder, "cert.pem")}\" --key \"{Path.Combine(folder, "key.pem")}\"";
        }
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
            var scheme = oauth ? "https" : "http";
            return new AzuriteProcess(process, closed.Task,
                $"DefaultEndpointsProtocol={scheme};AccountName=devstoreaccount1;"
                + "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                + $"BlobEndpoint={scheme}://127.0.0.1:{ports["Blob"]}/devstoreaccount1;"
                + $"QueueEndpoint={scheme}://127.0.0.1:{ports["Queue"]}/devstoreaccount1;"
                + $"TableEndpoint={scheme}://127.0.0.1:{ports["Table"]}/devstoreaccount1;", folder)
            {
                Certificate = certificate,
                Endpoints = ports.ToDictionary(p => p.Key, p => new Uri($"{scheme}://127.0.0.1:{p.Value}/devstoreaccount1")),
            };
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            if (folder is not null)
            {
                Directory.Delete(folder, recursive: true);
            }
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
            ProcessSignals.Terminate(_process);
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
        if (_tlsFolder is not null && Directory.Exists(_tlsFolder))
        {
            Directory.Delete(_tlsFolder, recursive: true);
        }
    }

    /// <summary>A certificate for 127.0.0.1, written as PEM for Azurite; the tests trust exactly this one.</summary>
    private static X509Certificate2 SelfSignedLoopbackCertificate(string certificatePath, string keyPath)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return X509CertificateLoader.LoadCertificate(certificate.RawData);
    }

    /// <summary>The repository's root (where AuditTrail.slnx is), found upwards from the running assembly.</summary>
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuditTrail.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Could not find the repository root (AuditTrail.slnx) above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"Azurite (Blob|Queue|Table) service is successfully listening at https?://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}
