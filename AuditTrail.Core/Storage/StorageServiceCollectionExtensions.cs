using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// The Table, Blob and Queue service clients of the trail's account, registered once with
    /// <c>AddAzureClients</c>: from the <c>AuditStorage</c> connection string, or from its identity
    /// settings with the <see cref="TokenCredential"/> in the container (managed identity in Azure,
    /// <see cref="DefaultAzureCredential"/> elsewhere). Every client retries with the
    /// <c>AuditStorage:Retry</c> settings. The settings are checked at start.
    /// </summary>
    public static IServiceCollection AddAuditStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuditStorageOptions>()
            .Configure(o => AuditStorageOptions.Bind(configuration.GetSection(AuditStorageOptions.Section), o))
            .Validate(o => o.Problem() is null, $"Setting '{AuditStorageOptions.Section}' is not usable: set a connection string ('UseDevelopmentStorage=true' or 'AccountName=...;AccountKey=...'), or for managed identity '{AuditStorageOptions.Section}__accountName' (or __blobServiceUri, __queueServiceUri and __tableServiceUri, all https).")
            .Validate(o => o.Retry.MaxRetries is >= 0 and <= 10 && o.Retry.Delay > TimeSpan.Zero && o.Retry.MaxDelay >= o.Retry.Delay && o.Retry.TryTimeout > TimeSpan.Zero
                           && o.Retry.RequestDeadline > TimeSpan.Zero && o.Retry.RequestDeadline <= StorageRetryOptions.MaxRequestDeadline,
                $"Settings '{AuditStorageOptions.Section}:Retry' are not usable: MaxRetries 0 to 10, Delay and TryTimeout positive, MaxDelay at least Delay, RequestDeadline positive and at most {StorageRetryOptions.MaxRequestDeadline:c}.")
            .ValidateOnStart();

        // Only identity-based connections ever ask it for a token; a test may register its own first.
        services.TryAddSingleton(sp => CreateCredential(sp.GetRequiredService<IOptions<AuditStorageOptions>>().Value));
        // The clients trace every request at Information (Azure.Core, Azure.Storage.*); the app logs
        // what failed and why itself, so only their warnings are kept.
        services.AddLogging(logging => logging.AddFilter("Azure", LogLevel.Warning));
        services.AddAzureClients(clients =>
        {
            clients.UseCredential(sp => sp.GetRequiredService<TokenCredential>());
            clients.ConfigureDefaults((options, sp) =>
            {
                var retry = sp.GetRequiredService<IOptions<AuditStorageOptions>>().Value.Retry;
                Apply(retry, options.Retry);
                options.AddPolicy(new BoundedRetryAfterPolicy(retry.MaxDelay, retry.MaxRetries), HttpPipelinePosition.PerRetry);
            });
            clients.AddClient<TableServiceClient, TableClientOptions>((options, credential, sp) =>
            {
                var storage = Storage(sp);
                return storage.UsesIdentity
                    ? new TableServiceClient(storage.IdentityEndpoints().Table, credential, options)
                    : new TableServiceClient(storage.ConnectionString, options);
            });
            clients.AddClient<BlobServiceClient, BlobClientOptions>((options, credential, sp) =>
            {
                var storage = Storage(sp);
                return storage.UsesIdentity
                    ? new BlobServiceClient(storage.IdentityEndpoints().Blob, credential, options)
                    : new BlobServiceClient(storage.ConnectionString, options);
            });
            // Message text as is: the forward queue's base64 (the trigger's messageEncoding) is written and
            // read by ForwardingOutbox, which must also move undecodable text to the poison queue unchanged.
            clients.AddClient<QueueServiceClient, QueueClientOptions>((options, credential, sp) =>
            {
                var storage = Storage(sp);
                return storage.UsesIdentity
                    ? new QueueServiceClient(storage.IdentityEndpoints().Queue, credential, options)
                    : new QueueServiceClient(storage.ConnectionString, options);
            });
        });
        return services;
    }

    private static AuditStorageOptions Storage(IServiceProvider services) => services.GetRequiredService<IOptions<AuditStorageOptions>>().Value;

    /// <summary>
    /// The system-assigned identity by default; a user-assigned one with clientId; off Azure, the
    /// developer's sign-in. Token requests retry and time out as storage requests do, so a
    /// token endpoint that hangs is bounded like storage that hangs.
    /// </summary>
    private static TokenCredential CreateCredential(AuditStorageOptions options)
    {
        if (string.Equals(options.Credential, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            var managed = new ManagedIdentityCredentialOptions(string.IsNullOrEmpty(options.ClientId)
                ? ManagedIdentityId.SystemAssigned
                : ManagedIdentityId.FromUserAssignedClientId(options.ClientId));
            Apply(options.Retry, managed.Retry);
            return new ManagedIdentityCredential(managed);
        }
        var developer = new DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ClientId };
        Apply(options.Retry, developer.Retry);
        return new DefaultAzureCredential(developer);
    }

    /// <summary>The settings' retries as the SDK's: exponential back-off with jitter, each try bounded by its network timeout.</summary>
    internal static void Apply(StorageRetryOptions settings, RetryOptions retry)
    {
        retry.Mode = RetryMode.Exponential;
        retry.MaxRetries = settings.MaxRetries;
        retry.Delay = settings.Delay;
        retry.MaxDelay = settings.MaxDelay;
        retry.NetworkTimeout = settings.TryTimeout;
    }
}
