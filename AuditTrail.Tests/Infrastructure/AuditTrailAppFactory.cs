using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>The real app, in memory, against the test run's Azurite (or any storage connection given).</summary>
public sealed class AuditTrailAppFactory(string storageConnectionString, TimeProvider? time = null, int storageRetries = 2) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("AuditStorage", storageConnectionString);
        builder.UseSetting("AuditTrail:InvocationEndpoints", "true");
        builder.UseSetting("AuditTrail:Timers", "false"); // tests run purges themselves
        builder.UseSetting("AuditStorage:Retry:MaxRetries", storageRetries.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("AuditStorage:Retry:Delay", "00:00:00.020");
        if (time is not null)
        {
            builder.ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton(time)));
        }
    }
}
