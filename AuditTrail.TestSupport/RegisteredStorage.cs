using AuditTrail.Core.Storage;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.TestSupport;

/// <summary>
/// The storage clients exactly as the app registers them (<see cref="StorageServiceCollectionExtensions.AddAuditStorage"/>:
/// same retries, same options), against a test's or a benchmark's storage; optionally through another transport.
/// </summary>
public sealed class RegisteredStorage : IDisposable
{
    private readonly ServiceProvider _services;

    private RegisteredStorage(ServiceProvider services, string connectionString)
    {
        _services = services;
        ConnectionString = connectionString;
        Tables = services.GetRequiredService<TableServiceClient>();
        Blobs = services.GetRequiredService<BlobServiceClient>();
        Queues = services.GetRequiredService<QueueServiceClient>();
    }

    public string ConnectionString { get; }

    public TableServiceClient Tables { get; }

    public BlobServiceClient Blobs { get; }

    public QueueServiceClient Queues { get; }

    /// <param name="transport">Sends every request (a latency model, say); the framework's default when null.</param>
    /// <param name="settings">More settings, such as <c>AuditStorage:Retry:*</c> or the identity ones (then give an empty connection string).</param>
    /// <param name="services">Registrations made before the storage clients', such as a <see cref="Azure.Core.TokenCredential"/>.</param>
    public static RegisteredStorage Create(string connectionString, HttpMessageHandler? transport = null, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { [AuditStorageOptions.Section] = connectionString })
            .Build();
        var collection = new ServiceCollection().AddLogging();
        services?.Invoke(collection);
        collection.AddAuditStorage(configuration);
        if (transport is not null)
        {
            var http = new HttpClient(transport);
            collection.ConfigureAll<TableClientOptions>(o => o.Transport = new HttpClientTransport(http));
            collection.ConfigureAll<BlobClientOptions>(o => o.Transport = new HttpClientTransport(http));
            collection.ConfigureAll<QueueClientOptions>(o => o.Transport = new HttpClientTransport(http));
        }
        return new RegisteredStorage(collection.BuildServiceProvider(), connectionString);
    }

    public void Dispose() => _services.Dispose();
}
