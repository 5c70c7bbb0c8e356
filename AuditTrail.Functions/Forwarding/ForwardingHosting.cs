using AuditTrail.Core.Forwarding;
using AuditTrail.Functions.Hosting;

namespace AuditTrail.Functions.Forwarding;

/// <summary>What forwarding takes from the hosting mode.</summary>
public static class ForwardingHosting
{
    public const string AllowHttpEndpointsSetting = ForwardingOptions.Section + ":AllowHttpEndpoints";

    /// <summary>
    /// Standalone is development: endpoints may name any port (local receivers). Under the Functions
    /// host, <c>AuditTrail:Forwarding:AllowHttpEndpoints=true</c> is refused at start: it switches the
    /// whole address guard off (plain http, loopback, private and metadata addresses), which only a
    /// local run against a receiver on 127.0.0.1 has any use for.
    /// </summary>
    public static IServiceCollection AddForwardingHosting(this IServiceCollection services, HostingMode mode)
    {
        services.AddSingleton(new ForwardingEnvironment(Development: mode == HostingMode.Standalone));
        if (mode == HostingMode.CustomHandler)
        {
            services.AddOptions<ForwardingOptions>()
                .Validate(o => !o.AllowHttpEndpoints,
                    $"Setting '{AllowHttpEndpointsSetting}' is true under the Functions host, where it would let forwarding reach plain-http and internal addresses; remove it or set it to false (it is for standalone local runs only).")
                // The forwarder would refuse every connection to it (port 443 only, outside development): say so at start.
                .Validate(o => o.AllowHttpEndpoints || o.DefaultEndpoint.Port == ForwardingAddressGuard.HttpsPort,
                    $"Setting '{ForwardingOptions.Section}:DefaultEndpoint' names a port other than {ForwardingAddressGuard.HttpsPort}; under the Functions host forwarding reaches only port {ForwardingAddressGuard.HttpsPort}: leave the port out.")
                .ValidateOnStart();
        }
        return services;
    }
}
