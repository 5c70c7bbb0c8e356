using System.Diagnostics;
using System.Text.Json;
using AuditTrail.Core.Telemetry;
using Azure.Core;
using Azure.Monitor.OpenTelemetry.AspNetCore;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// OpenTelemetry for the app (docs/operations.md): spans for every HTTP request (a host's function
/// invocation is one, named after the function), the storage SDK's spans under them, the
/// <c>AuditTrail</c> source's spans for in-process pollers and timers; the <c>AuditTrail</c> meter
/// plus ASP.NET Core's and HttpClient's. Exported to Application Insights only when
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set; otherwise nothing is collected at all,
/// unless <c>AuditTrail:Telemetry:Enabled</c> asks for collection without an exporter (a test, or
/// a developer adding one).
/// </summary>
public static class TelemetryHosting
{
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string AuthenticationStringSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";
    public const string EnabledSetting = "AuditTrail:Telemetry:Enabled";

    /// <summary>The Azure SDK's HTTP-level spans; the HttpClient span under one would say the same again.</summary>
    private const string AzureHttpSource = "Azure.Core.Http";

    private const string HttpClientSource = "System.Net.Http";

    public static WebApplicationBuilder AddAuditTrailTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var connectionString = builder.Configuration[ConnectionStringSetting];
        var export = !string.IsNullOrWhiteSpace(connectionString);
        if (!export && !builder.Configuration.GetValue(EnabledSetting, false))
        {
            // No listener: every span and measurement the app makes costs a null check.
            return builder;
        }
        var functions = FunctionInvocations.Read(AppContext.BaseDirectory);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(builder.Configuration["WEBSITE_SITE_NAME"] ?? "audit-trail"))
            .WithTracing(tracing => tracing
                // Storage spans are stable in these Azure SDK versions: no experimental switch is needed.
                .AddSource(AuditTrailTelemetry.Name, "Azure.*")
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.RecordException = false; // a message may quote input; error.type says what failed
                    o.EnrichWithHttpResponse = (activity, response) => functions.Name(activity, response.HttpContext);
                })
                .AddHttpClientInstrumentation(o =>
                {
                    o.RecordException = false;
                    // Asked once the request's own span is current (.NET 9+ makes it natively): its parent decides.
                    o.FilterHttpRequestMessage = _ => Activity.Current is not { } current
                        || (current.Source.Name == HttpClientSource ? current.Parent : current)?.Source.Name != AzureHttpSource;
                })
                .AddProcessor(new TelemetryRedaction()))
            .WithMetrics(metrics => metrics
                .AddMeter(AuditTrailTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation());
        if (export)
        {
            otel.UseAzureMonitor(o => o.ConnectionString = connectionString);
            if (UsesEntraId(builder.Configuration[AuthenticationStringSetting]))
            {
                // Application Insights has local auth off: the exporter signs in as the app does (shared-names.md).
                builder.Services.AddOptions<AzureMonitorOptions>()
                    .Configure<TokenCredential>((o, credential) => o.Credential = credential);
            }
        }
        return builder;
    }

    /// <summary><c>Authorization=AAD;ClientId=…</c>: the identity's client id is the app's credential's own (AuditStorage__clientId).</summary>
    internal static bool UsesEntraId(string? authenticationString) =>
        authenticationString is not null && authenticationString.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Any(part => part.Equals("Authorization=AAD", StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The functions the host invokes by POST <c>/{Name}</c> (every non-HTTP trigger in the app's
/// function.json files), so their request spans are named and tagged as invocations.
/// </summary>
internal sealed class FunctionInvocations(IReadOnlyDictionary<string, string> triggers)
{
    public static FunctionInvocations Read(string root)
    {
        var triggers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in Directory.Exists(root) ? Directory.EnumerateFiles(root, "function.json", SearchOption.AllDirectories) : [])
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var type = doc.RootElement.GetProperty("bindings").EnumerateArray()
                .Select(b => b.GetProperty("type").GetString())
                .FirstOrDefault(t => t is not null && t.EndsWith("Trigger", StringComparison.Ordinal));
            var trigger = type switch
            {
                "eventHubTrigger" or "queueTrigger" or "serviceBusTrigger" => "pubsub",
                "timerTrigger" => "timer",
                "blobTrigger" => "datasource",
                _ => null, // HTTP functions are forwarded as the requests they are
            };
            if (trigger is not null)
            {
                triggers[Path.GetFileName(Path.GetDirectoryName(file)!)] = trigger;
            }
        }
        return new FunctionInvocations(triggers);
    }

    public void Name(Activity activity, HttpContext context)
    {
        var path = context.Request.Path.Value;
        if (!HttpMethods.IsPost(context.Request.Method) || path is null || path.Length < 2 || path.IndexOf('/', 1) >= 0
            || !triggers.TryGetValue(path[1..], out var trigger))
        {
            return;
        }
        var name = path[1..];
        activity.DisplayName = name;
        activity.SetTag("faas.trigger", trigger);
        activity.SetTag("faas.invoked_name", name);
        if (context.Request.Headers.TryGetValue("X-Azure-Functions-InvocationId", out var id) && Guid.TryParse(id, out var invocation))
        {
            activity.SetTag("faas.invocation_id", invocation.ToString());
        }
    }
}

/// <summary>
/// Keeps secrets and event content out of every span, whoever made it: URLs lose their query and
/// user info; a storage URL keeps its table, container or queue but not an entity's keys (an
/// event's row key holds its id) nor a blob's name; any other URL (a forwarding source, whose
/// base path is the workspace's to choose) keeps only its host; an error's description (which
/// may quote a service's answer) is replaced by its type.
/// </summary>
internal sealed class TelemetryRedaction : BaseProcessor<Activity>
{
    private static readonly string[] UrlTags = ["url.full", "http.url", "http.target"];

    public override void OnEnd(Activity data)
    {
        var storage = IsAzure(data.Source) || (data.Parent is { } parent && IsAzure(parent.Source));
        foreach (var tag in UrlTags)
        {
            if (data.GetTagItem(tag) is string url)
            {
                data.SetTag(tag, Url(url, storage));
            }
        }
        if (data.GetTagItem("url.query") is not null)
        {
            data.SetTag("url.query", null);
        }
        if (data.Status == ActivityStatusCode.Error && !string.IsNullOrEmpty(data.StatusDescription))
        {
            data.SetStatus(ActivityStatusCode.Error, data.GetTagItem("error.type") as string);
        }
    }

    private static bool IsAzure(ActivitySource source) => source.Name.StartsWith("Azure.", StringComparison.Ordinal);

    internal static string Url(string url, bool storage)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "[redacted]";
        }
        var root = $"{uri.Scheme}://{uri.Authority}";
        if (!storage)
        {
            return root + "/…";
        }
        // Path-style (Azurite: /account/resource/…) or host-style (/resource/…): keep up to the resource name.
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var resourceAt = segments.Length > 1 && uri.Host is "127.0.0.1" or "localhost" ? 1 : 0;
        var kept = segments[..Math.Min(segments.Length, resourceAt + 1)];
        var dropped = segments.Length > kept.Length;
        if (kept.Length > 0 && kept[^1].IndexOf('(', StringComparison.Ordinal) is var paren and >= 0)
        {
            kept[^1] = kept[^1][..paren]; // a table entity's keys
            dropped = true;
        }
        return root + "/" + string.Join('/', kept) + (dropped ? "/…" : string.Empty);
    }
}
