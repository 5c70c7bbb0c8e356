using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(AzuriteFixture))]

namespace AuditTrail.Tests.Infrastructure;

/// <summary>
/// One Azurite for the whole test run. <c>scripts/test</c> starts it and passes the connection in
/// <c>AUDITTRAIL_TEST_STORAGE</c>; run from an IDE or plain <c>dotnet test</c>, the fixture starts
/// its own in-memory Azurite on free ports from the repository's node_modules and stops it after.
/// Tests isolate themselves by workspace id, so they share it safely in parallel; the one large
/// test takes a <see cref="PrivateAzuriteFixture"/> instead.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _own;

    public string ConnectionString { get; private set; } = string.Empty;

    public async ValueTask InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable("AUDITTRAIL_TEST_STORAGE");
        if (!string.IsNullOrWhiteSpace(given))
        {
            ConnectionString = given;
            return;
        }
        _own = await AzuriteProcess.StartAsync();
        ConnectionString = _own.ConnectionString;
    }

    public ValueTask DisposeAsync()
    {
        _own?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The storage clients as the app registers them, with fast retries so fault tests finish quickly.</summary>
    public RegisteredStorage CreateClients(HttpMessageHandler? transport = null) => CreateClients(ConnectionString, transport);

    public static RegisteredStorage CreateClients(string connectionString, HttpMessageHandler? transport = null) =>
        RegisteredStorage.Create(connectionString, transport, FastRetries);

    public static IReadOnlyDictionary<string, string?> FastRetries { get; } = new Dictionary<string, string?>
    {
        ["AuditStorage:Retry:MaxRetries"] = "2",
        ["AuditStorage:Retry:Delay"] = "00:00:00.020",
    };

    public static string RepoRoot() => AzuriteProcess.RepoRoot();
}

/// <summary>
/// An Azurite of a test's own, in memory on free ports, for tests whose volume would slow every
/// other test down: Azurite answers each table query by scanning the whole table, so 500k rows in
/// the shared instance would make every later query test pay for them.
/// </summary>
public sealed class PrivateAzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _process;

    public string ConnectionString => _process?.ConnectionString ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _process = await AzuriteProcess.StartAsync();

    public ValueTask DisposeAsync()
    {
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }
}
