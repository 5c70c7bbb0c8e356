using System.Net;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure;

namespace AuditTrail.Tests.Storage;

/// <summary>
/// A store creates its tables and containers once, however many first callers arrive together,
/// and again after a creation that failed. Against Azurite, through a transport that counts what
/// the clients send.
/// </summary>
public sealed class CreateOnceTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly RecordingHandler _wire = new(new SocketsHttpHandler());
    private readonly AuditTrail.TestSupport.RegisteredStorage _clients;

    public CreateOnceTests(AzuriteFixture azurite) => _clients = azurite.CreateClients(_wire);

    public void Dispose() => _clients.Dispose();

    // The trail's five tables (POST /Tables) and its dead-letter container (PUT ?restype=container).
    private int CreateRequests => _wire.Requests.Count(r =>
        (r.Method == HttpMethod.Post && r.Uri.AbsolutePath.EndsWith("/Tables", StringComparison.Ordinal))
        || (r.Method == HttpMethod.Put && r.Uri.Query.Contains("restype=container", StringComparison.Ordinal)));

    [Fact]
    public async Task First_uses_that_arrive_together_send_one_creation()
    {
        var store = new TrailTables(_clients.Tables, _clients.Blobs);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => store.EnsureCreatedAsync(Ct), Ct)));
        Assert.Equal(6, CreateRequests);

        await store.EnsureCreatedAsync(Ct);
        Assert.Equal(6, CreateRequests);
    }

    [Fact]
    public async Task A_creation_that_failed_is_tried_again_on_the_next_use()
    {
        // Refused, as a storage account with a firewall refuses: not retried by the client.
        _wire.Answer = (request, _, _) => Task.FromResult(request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.EndsWith("/Tables", StringComparison.Ordinal)
            ? RecordingHandler.Error(HttpStatusCode.Forbidden, "AuthorizationFailure")
            : null);
        var store = new TrailTables(_clients.Tables, _clients.Blobs);
        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => store.EnsureCreatedAsync(Ct));
        Assert.Equal(403, refused.Status);
        Assert.Equal("AuthorizationFailure", refused.ErrorCode);
        var afterFailure = CreateRequests;

        _wire.Answer = (_, _, _) => Task.FromResult<HttpResponseMessage?>(null);
        await store.EnsureCreatedAsync(Ct);
        Assert.Equal(afterFailure + 6, CreateRequests);
        await store.EnsureCreatedAsync(Ct);
        Assert.Equal(afterFailure + 6, CreateRequests);
    }

    [Fact]
    public async Task A_caller_who_gives_up_waiting_leaves_the_creation_to_finish_for_the_others()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var creations = 0;
        var once = new CreateOnce();
        Task Create(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref creations);
            return release.Task.WaitAsync(cancellationToken);
        }

        var first = once.EnsureAsync(Create, Ct);
        using var impatient = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var second = once.EnsureAsync(Create, impatient.Token);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.False(first.IsCompleted);

        release.SetResult();
        await first;
        await once.EnsureAsync(Create, Ct);
        Assert.Equal(1, creations);
    }

    [Fact]
    public async Task When_the_caller_who_started_the_creation_gives_up_another_waiting_caller_starts_it_again()
    {
        var creations = 0;
        var once = new CreateOnce();
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Create(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref creations) == 1)
            {
                firstStarted.SetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }

        using var impatient = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var first = once.EnsureAsync(Create, impatient.Token);
        await firstStarted.Task.WaitAsync(Ct);
        var second = once.EnsureAsync(Create, Ct);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await second;
        Assert.Equal(2, creations);
        await once.EnsureAsync(Create, Ct);
        Assert.Equal(2, creations);
    }
}
