using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Query;
using AuditTrail.Core.Retention;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Telemetry;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core;

public static class AuditTrailCoreServiceCollectionExtensions
{
    /// <summary>
    /// The storage clients (<see cref="StorageServiceCollectionExtensions.AddAuditStorage"/>, from
    /// <c>AuditStorage</c>, the same name the function bindings use; checked at start) and the
    /// application services.
    /// </summary>
    public static IServiceCollection AddAuditTrailCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddAuditStorage(configuration);
        services.AddSingleton(TimeProvider.System);
        // The meter per container (IMeterFactory), the instruments with it; nothing is exported unless the host adds a listener.
        services.AddMetrics();
        services.AddSingleton<AuditTrailTelemetry>();
        services.AddSingleton<TrailTables>();
        services.AddSingleton<DeadLetterStore>();
        services.AddSingleton<IngestionService>();
        services.AddSingleton<ActionRecorder>();
        services.AddOptions<IngestionOptions>().Bind(configuration.GetSection(IngestionOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<BatchPoisonPolicy>();
        services.AddSingleton<AccessTokenService>();
        services.AddOptions<QueryOptions>()
            .Bind(configuration.GetSection(QueryOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<TrailQueryService>();
        services.AddSingleton<TrailActivityService>();
        services.AddSingleton<AuditTrail.Core.Demo.DemoTrailSeeder>();
        services.AddSingleton<ContinuationTokens>();
        services.AddSingleton<RetentionService>();
        services.AddSingleton<ExportLinks>();
        services.AddOptions<ExportOptions>()
            .Bind(configuration.GetSection(ExportOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<ExportService>();
        services.AddSingleton<ExportWorker>();
        services.AddAuditForwarding(configuration);
        services.AddAuditIntegrity(configuration);
        // Ingest's after-store steps, run in this order: the ledger first, so a batch whose ledger
        // write fails queues nothing, and every event a source receives is one the ledger has.
        services.AddSingleton<IAfterStoreStep>(sp => sp.GetRequiredService<IntegrityLedger>());
        services.AddSingleton<IAfterStoreStep>(sp => sp.GetRequiredService<ForwardingOutbox>());
        return services;
    }

    /// <summary>The tamper-evident trail: the ledger ingest writes, the sealer, the signing keys, verification.</summary>
    public static IServiceCollection AddAuditIntegrity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IntegrityOptions>()
            .Bind(configuration.GetSection(IntegrityOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.Problem() is null, $"Settings '{IntegrityOptions.Section}' are not usable: SealDelay 00:05:00 to 1.00:00:00; at most one of SigningKeyPem (an EC P-256 private key in PEM) and SigningKeySecretUri (https://<vault>.vault.azure.net/secrets/<name>).")
            .ValidateOnStart();
        services.AddSingleton<IntegrityStore>();
        services.AddSingleton<IntegrityLedger>();
        services.AddSingleton<IntegrityKeys>();
        services.AddSingleton<DigestSealer>();
        services.AddSingleton<IntegrityService>();
        return services;
    }

    /// <summary>
    /// Under the Functions host the digest signing key must come from configuration: a key generated
    /// into the storage account it protects is held by anyone who can read that account. Checked at
    /// start like every other setting, so the app refuses to start with one line naming the setting.
    /// </summary>
    public static IServiceCollection RequireConfiguredSigningKey(this IServiceCollection services)
    {
        services.AddOptions<IntegrityOptions>()
            .Validate(o => o.HasConfiguredKey,
                $"Setting '{IntegrityOptions.Section}:SigningKeySecretUri' (a Key Vault secret holding the digest signing key; or '{IntegrityOptions.Section}:SigningKeyPem') is required under the Functions host: the app does not generate a signing key into the storage it protects. See docs/deploy.md.")
            .ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Forwarding: settings, the queue ingest feeds, and the forwarder with its own HTTP client: no
    /// automatic retries (the queue retries), no redirects (a source that answers 3xx did not take
    /// the events, and its Location must not receive them), and, unless local development allows
    /// plain-http endpoints, connections only to public addresses, checked as they are made.
    /// </summary>
    public static IServiceCollection AddAuditForwarding(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ForwardingOptions>()
            .Bind(configuration.GetSection(ForwardingOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.DefaultEndpoint.IsAbsoluteUri && (o.DefaultEndpoint.Scheme == Uri.UriSchemeHttps || o.AllowHttpEndpoints),
                $"Setting '{ForwardingOptions.Section}:DefaultEndpoint' must be an absolute https URL (http only with AllowHttpEndpoints).")
            .ValidateOnStart();
        services.AddSingleton<ForwardingSettingsStore>();
        services.TryAddSingleton<IForwardingHostResolver, DnsForwardingHostResolver>();
        // Strict unless the host says it is development (AuditTrail.Functions registers it from the hosting mode first).
        services.TryAddSingleton(ForwardingEnvironment.Production);
        services.AddSingleton<ForwardingAddressGuard>();
        services.AddSingleton<ForwardingSettingsService>();
        services.AddSingleton<ForwardingOutbox>();
        services.AddSingleton<ForwardingDeadLetters>();
        services.AddHttpClient(EventForwarder.HttpClientName, (sp, client) =>
                client.Timeout = sp.GetRequiredService<IOptions<ForwardingOptions>>().Value.RequestTimeout)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var guard = sp.GetRequiredService<ForwardingAddressGuard>();
                var handler = new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) };
                if (guard.Enabled)
                {
                    handler.ConnectCallback = guard.ConnectAsync;
                    // Through a proxy the callback would check the proxy's address, and the proxy would reach any target.
                    handler.UseProxy = false;
                }
                return handler;
            });
        services.AddSingleton(sp => new EventForwarder(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(EventForwarder.HttpClientName),
            sp.GetRequiredService<TrailTables>(), sp.GetRequiredService<ForwardingSettingsStore>(), sp.GetRequiredService<DeadLetterStore>(),
            sp.GetRequiredService<ForwardingDeadLetters>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<EventForwarder>>(),
            sp.GetService<AuditTrailTelemetry>()));
        return services;
    }
}
