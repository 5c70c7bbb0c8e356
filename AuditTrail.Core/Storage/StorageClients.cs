using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuditTrail.Core.Storage;

/// <summary>
/// The one place that builds the storage pipeline (retry outside; Shared Key signing, or a
/// Microsoft Entra bearer token when the account has no key, inside) and
/// hands out clients. Swapping in the official SDKs later means replacing this class and the
/// four client types behind it.
/// </summary>
public sealed class StorageClients : IDisposable
{
    private readonly HttpClient _table;
    private readonly HttpClient _blob;
    private readonly HttpClient _queue;
    private readonly UserDelegationKeys _delegationKeys;
    private readonly HttpMessageHandler? _ownedTransport;

    /// <param name="credential">Used when the account has no key (managed identity in Azure); required then.</param>
    public StorageClients(StorageAccount account, StorageRetryOptions retry, ILoggerFactory? loggers = null, TimeProvider? time = null, HttpMessageHandler? transport = null, Azure.Core.TokenCredential? credential = null)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (!account.HasKey && credential is null)
        {
            throw new ArgumentException($"Storage account {account.Name} has no key, so a token credential is required.", nameof(credential));
        }
        Account = account;
        var logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("AuditTrail.Storage");
        // One connection pool for all services; recycled so DNS changes are picked up.
        _ownedTransport = transport is null ? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 64 } : null;
        var shared = transport ?? _ownedTransport!;
        DelegatingHandler Authorize(StorageService service) => account.HasKey
            ? new SharedKeyHandler(account, service, time) { InnerHandler = shared }
            : new BearerTokenHandler(credential!, time) { InnerHandler = shared };
        HttpClient Build(StorageService service) => new(
            new RetryHandler(retry, logger, time) { InnerHandler = Authorize(service) },
            disposeHandler: false)
        {
            Timeout = Timeout.InfiniteTimeSpan, // each try has its own timeout in RetryHandler
        };
        _table = Build(StorageService.Table);
        _blob = Build(StorageService.Blob);
        _queue = Build(StorageService.Queue);
        _delegationKeys = new UserDelegationKeys(_blob, account, time ?? TimeProvider.System);
    }

    public StorageAccount Account { get; }

    public TableClient GetTable(string name) => new(_table, Account, name);

    public BlobContainerClient GetContainer(string name) => new(_blob, Account, name, _delegationKeys);

    public QueueClient GetQueue(string name) => new(_queue, Account, name);

    public void Dispose()
    {
        _table.Dispose();
        _blob.Dispose();
        _queue.Dispose();
        _ownedTransport?.Dispose();
    }
}
