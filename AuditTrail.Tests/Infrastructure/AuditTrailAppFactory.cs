using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>The real app, in memory, against the test run's Azurite (or any storage connection given).</summary>
public sealed class AuditTrailAppFactory(
    string storageConnectionString, TimeProvider? time = null, int storageRetries = 2,
    IReadOnlyDictionary<string, string>? settings = null, ILoggerProvider? logs = null, Action<IServiceCollection>? services = null) : WebApplicationFactory<Program>
{
    /// <summary>
    /// Settings that put the app in custom-handler mode, as under the Functions host (the test server
    /// listens on no port), with what that mode requires: a configured digest signing key.
    /// </summary>
    public static Dictionary<string, string> UnderFunctionsHost(IReadOnlyDictionary<string, string>? settings = null)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        return new Dictionary<string, string>(settings ?? new Dictionary<string, string>())
        {
            [Functions.Hosting.HostingSettings.PortVariable] = "7399",
            ["AuditTrail:Integrity:SigningKeyPem"] = key.ExportPkcs8PrivateKeyPem(),
        };
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("AuditStorage", storageConnectionString);
        builder.UseSetting("AuditTrail:InvocationEndpoints", "true");
        builder.UseSetting("AuditTrail:Timers", "false"); // tests run purges themselves
        builder.UseSetting("AuditStorage:Retry:MaxRetries", storageRetries.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("AuditStorage:Retry:Delay", "00:00:00.020");
        // Forwarding tests drive the standalone forwarder themselves, one poll at a time.
        builder.UseSetting("AuditTrail:Forwarding:PollQueue", "false");
        // Export tests drive the export poller themselves too (ExportRuns), so no app's poller
        // takes another test's export from the shared queue.
        builder.UseSetting("AuditTrail:Export:PollQueue", "false");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            builder.UseSetting(key, value);
        }
        if (logs is not null)
        {
            builder.ConfigureLogging(l => l.AddProvider(logs));
        }
        if (time is not null)
        {
            builder.ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton(time)));
        }
        if (services is not null)
        {
            builder.ConfigureServices(services);
        }
    }
}
