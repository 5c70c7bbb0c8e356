using System.Globalization;
using AuditTrail.Functions.Forwarding;

namespace AuditTrail.Functions.Hosting;

public enum HostingMode
{
    /// <summary>Started by the Azure Functions host, which passes the port in FUNCTIONS_CUSTOMHANDLER_PORT.</summary>
    CustomHandler,

    /// <summary>Running on its own (local development, tests): serves the HTTP API and runs triggers itself.</summary>
    Standalone,
}

/// <summary>Which mode the app runs in and where it listens.</summary>
public sealed record HostingSettings(HostingMode Mode, string Url, bool InvocationEndpoints)
{
    public const string PortVariable = "FUNCTIONS_CUSTOMHANDLER_PORT";
    public const string DefaultStandaloneUrl = "http://127.0.0.1:7071";

    /// <summary>
    /// Under the Functions host: loopback on the host's port, and the trigger invocation endpoints
    /// (<c>/{FunctionName}</c>) are served. Standalone: <c>AuditTrail:Url</c> (default
    /// 127.0.0.1:7071), and the invocation endpoints only when <c>AuditTrail:InvocationEndpoints</c>
    /// is true, because they trust their caller as the host does and carry no token.
    /// </summary>
    public static HostingSettings Resolve(IConfiguration configuration)
    {
        var portText = configuration[PortVariable];
        if (!string.IsNullOrWhiteSpace(portText))
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new InvalidSettingException(PortVariable, $"Setting '{PortVariable}' is '{portText}'; set a TCP port number (1-65535), or leave it to the Functions host.");
            }
            return new HostingSettings(HostingMode.CustomHandler, $"http://127.0.0.1:{port}", true);
        }
        var url = configuration["AuditTrail:Url"] ?? DefaultStandaloneUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            throw new InvalidSettingException("AuditTrail:Url", $"Setting 'AuditTrail:Url' is '{url}'; set an http or https address to listen on, such as {DefaultStandaloneUrl}.");
        }
        return new HostingSettings(HostingMode.Standalone, url, configuration.GetValue("AuditTrail:InvocationEndpoints", false));
    }
}

public static class FunctionsHostingExtensions
{
    /// <summary>How long a stopping app waits for requests in flight (and background work) to finish.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(30);

    public static HostingSettings AddFunctionsHosting(this WebApplicationBuilder builder, bool commandLine = false)
    {
        if (commandLine)
        {
            // A command-line run prints its own output; the app's information logs would bury it.
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        }
        var settings = HostingSettings.Resolve(builder.Configuration);
        builder.Services.AddSingleton(settings);
        builder.Services.AddForwardingHosting(settings.Mode);
        // An explicit --urls / ASPNETCORE_URLS wins in standalone mode; the host's port always wins under the host.
        if (settings.Mode == HostingMode.CustomHandler || string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(settings.Url);
        }
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = HttpLimits.MaxInvocationBodyBytes);
        // On SIGTERM Kestrel stops accepting and lets requests in flight finish for this long; an
        // ingest is acknowledged only after it is stored, so one cut off at the limit is simply not
        // acknowledged. Stated, not left to the framework default, because it bounds how long a stop takes.
        var shutdownTimeout = builder.Configuration.GetValue("AuditTrail:ShutdownTimeout", DefaultShutdownTimeout);
        if (shutdownTimeout <= TimeSpan.Zero)
        {
            throw new InvalidSettingException("AuditTrail:ShutdownTimeout", $"Setting 'AuditTrail:ShutdownTimeout' is '{shutdownTimeout}'; set a positive time span such as 00:00:30.");
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout);
        return settings;
    }

    /// <summary>
    /// <c>GET /api/status</c>: the mode and readiness, without a token, for probes. (The Functions
    /// host itself polls <c>GET /</c>, the page, which answers at once, before its first invocation.)
    /// </summary>
    public static IEndpointRouteBuilder MapHostEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/status", (HostingSettings settings) => TypedResults.Ok(new ServiceStatus("Audit Trail", settings.Mode.ToString(), "ready")))
            .WithTags("Status")
            .WithName("GetStatus")
            .WithSummary("The service's hosting mode and readiness; needs no token.");
        return app;
    }
}

public sealed record ServiceStatus(string Service, string Mode, string Status);

/// <summary>Request size limits (docs/architecture.md, "Limits").</summary>
public static class HttpLimits
{
    /// <summary>HTTP ingest: body size.</summary>
    public const long MaxIngestBodyBytes = 4 * 1024 * 1024;

    /// <summary>HTTP ingest: events per request.</summary>
    public const int MaxEventsPerRequest = 1000;

    /// <summary>Invocation payloads from the host: up to 100 Event Hubs messages of up to 1 MB each, JSON-encoded.</summary>
    public const long MaxInvocationBodyBytes = 256L * 1024 * 1024;
}
