using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Query;
using AuditTrail.Core.Retention;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core;

public static class AuditTrailCoreServiceCollectionExtensions
{
    /// <summary>
    /// Storage clients and the application services. The connection string is read from
    /// <c>AuditStorage</c> (the same name the function bindings use) and checked at start.
    /// </summary>
    public static IServiceCollection AddAuditTrailCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageClientOptions>()
            .Configure(o =>
            {
                // As the Functions bindings read a connection: "AuditStorage" is a connection string, or
                // "AuditStorage__accountName" / "__blobServiceUri" / … describe an identity-based one.
                var section = configuration.GetSection(StorageClientOptions.ConnectionSetting);
                section.Bind(o);
                var identity = section["accountName"] is not null || section["blobServiceUri"] is not null || section["tableServiceUri"] is not null;
                o.ConnectionString = section.Value ?? section["ConnectionString"] ?? (identity ? null : o.ConnectionString);
            })
            .Validate(o => TryParse(o), $"Setting '{StorageClientOptions.ConnectionSetting}' is not usable: set a connection string ('UseDevelopmentStorage=true' or 'AccountName=...;AccountKey=...'), or for managed identity '{StorageClientOptions.ConnectionSetting}__accountName' (or __blobServiceUri, __queueServiceUri and __tableServiceUri, all https).")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StorageClientOptions>>().Value;
            return new StorageClients(options.ToAccount(), options.Retry, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>(),
                credential: options.UsesIdentity ? CreateCredential(options) : null);
        });
        services.AddSingleton<TrailStore>();
        services.AddSingleton<DeadLetterStore>();
        services.AddSingleton<IngestionService>();
        services.AddSingleton<AccessTokenService>();
        services.AddOptions<QueryOptions>()
            .Bind(configuration.GetSection(QueryOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<TrailQueryService>();
        services.AddSingleton<ContinuationTokens>();
        services.AddSingleton<RetentionService>();
        services.AddSingleton<ExportService>();
        services.AddAuditForwarding(configuration);
        return services;
    }

    /// <summary>Forwarding: settings, the queue ingest feeds, and the forwarder with its own HTTP client (no automatic retries: the queue retries).</summary>
    public static IServiceCollection AddAuditForwarding(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ForwardingOptions>()
            .Bind(configuration.GetSection(ForwardingOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.DefaultEndpoint.IsAbsoluteUri && (o.DefaultEndpoint.Scheme == Uri.UriSchemeHttps || o.AllowHttpEndpoints),
                $"Setting '{ForwardingOptions.Section}:DefaultEndpoint' must be an absolute https URL (http only with AllowHttpEndpoints).")
            .ValidateOnStart();
        services.AddSingleton<ForwardingSettingsStore>();
        services.AddSingleton<ForwardingSettingsService>();
        services.AddSingleton<ForwardingOutbox>();
        services.AddHttpClient(EventForwarder.HttpClientName, (sp, client) =>
            client.Timeout = sp.GetRequiredService<IOptions<ForwardingOptions>>().Value.RequestTimeout);
        services.AddSingleton(sp => new EventForwarder(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(EventForwarder.HttpClientName),
            sp.GetRequiredService<TrailStore>(), sp.GetRequiredService<ForwardingSettingsStore>(), sp.GetRequiredService<DeadLetterStore>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<EventForwarder>>()));
        return services;
    }

    /// <summary>The system-assigned identity by default; a user-assigned one with clientId; off Azure, the developer's sign-in.</summary>
    private static Azure.Core.TokenCredential CreateCredential(StorageClientOptions options) =>
        string.Equals(options.Credential, "managedidentity", StringComparison.OrdinalIgnoreCase)
            ? new Azure.Identity.ManagedIdentityCredential(string.IsNullOrEmpty(options.ClientId)
                ? Azure.Identity.ManagedIdentityId.SystemAssigned
                : Azure.Identity.ManagedIdentityId.FromUserAssignedClientId(options.ClientId))
            : new Azure.Identity.DefaultAzureCredential(new Azure.Identity.DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ClientId });

    private static bool TryParse(StorageClientOptions options)
    {
        try
        {
            options.ToAccount();
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
