using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Core.Storage;

/// <summary>
/// The one place that builds the storage pipeline (retry outside, Shared Key signing inside) and
/// hands out clients. Swapping in the official SDKs later means replacing this class and the
/// four client types behind it.
/// </summary>
public sealed class StorageClients : IDisposable
{
    private readonly HttpClient _table;
    private readonly HttpClient _blob;
    private readonly HttpClient _queue;
    private readonly HttpMessageHandler? _ownedTransport;

    public StorageClients(StorageAccount account, StorageRetryOptions retry, ILoggerFactory? loggers = null, TimeProvider? time = null, HttpMessageHandler? transport = null)
    {
        Account = account;
        var logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("AuditTrail.Storage");
        // One connection pool for all services; recycled so DNS changes are picked up.
        _ownedTransport = transport is null ? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 64 } : null;
        var shared = transport ?? _ownedTransport!;
        HttpClient Build(StorageService service) => new(
            new RetryHandler(retry, logger, time) { InnerHandler = new SharedKeyHandler(account, service, time) { InnerHandler = shared } },
            disposeHandler: false)
        {
            Timeout = Timeout.InfiniteTimeSpan, // each try has its own timeout in RetryHandler
        };
        _table = Build(StorageService.Table);
        _blob = Build(StorageService.Blob);
        _queue = Build(StorageService.Queue);
    }

    public StorageAccount Account { get; }

    public TableClient GetTable(string name) => new(_table, Account, name);

    public BlobContainerClient GetContainer(string name) => new(_blob, Account, name);

    public QueueClient GetQueue(string name) => new(_queue, Account, name);

    public void Dispose()
    {
        _table.Dispose();
        _blob.Dispose();
        _queue.Dispose();
        _ownedTransport?.Dispose();
    }
}
