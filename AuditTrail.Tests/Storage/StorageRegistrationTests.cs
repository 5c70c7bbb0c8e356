using System.Net;
using AuditTrail.Core.Storage;
using AuditTrail.TestSupport;
using AuditTrail.Tests.Infrastructure;
using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace AuditTrail.Tests.Storage;

/// <summary>
/// The storage clients as <see cref="StorageServiceCollectionExtensions.AddAuditStorage"/> makes
/// them from the settings: which account, which credential, which retries, and what a failure
/// looks like to the app. A scripted transport stands in for the service where Azurite cannot be
/// made to throttle, fail or hang, and a mocked credential for Microsoft Entra ID.
/// </summary>
public sealed class StorageRegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string?> FastRetries = new()
    {
        ["AuditStorage:Retry:MaxRetries"] = "3",
        ["AuditStorage:Retry:Delay"] = "00:00:00.001",
        ["AuditStorage:Retry:MaxDelay"] = "00:00:00.005",
    };

    private static RegisteredStorage Scripted(RecordingHandler wire, Dictionary<string, string?>? settings = null) =>
        RegisteredStorage.Create("UseDevelopmentStorage=true", wire, settings ?? FastRetries);

    [Fact]
    public void The_development_default_and_account_key_strings_give_clients_of_that_account()
    {
        using var development = RegisteredStorage.Create("UseDevelopmentStorage=true");
        using var account = RegisteredStorage.Create("DefaultEndpointsProtocol=https;AccountName=auditacct;AccountKey=" + Convert.ToBase64String(new byte[64]) + ";EndpointSuffix=core.windows.net");

        Assert.Equal(("http://127.0.0.1:10002/devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1", "http://127.0.0.1:10001/devstoreaccount1"),
            (development.Tables.Uri.ToString().TrimEnd('/'), development.Blobs.Uri.ToString().TrimEnd('/'), development.Queues.Uri.ToString().TrimEnd('/')));
        Assert.Equal("https://auditacct.table.core.windows.net/", account.Tables.Uri.ToString());
        Assert.True(account.Blobs.CanGenerateAccountSasUri); // a key: download links are signed with it
    }

    [Fact]
    public async Task Identity_settings_reach_each_service_over_https_with_a_bearer_token_and_no_key()
    {
        var credential = new Mock<TokenCredential>();
        credential.Setup(c => c.GetTokenAsync(It.Is<TokenRequestContext>(r => r.Scopes.Single() == "https://storage.azure.com/.default"), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new AccessToken("token-1", DateTimeOffset.UtcNow.AddHours(1)));
        var wire = new RecordingHandler
        {
            Answer = (request, _, _) => Task.FromResult<HttpResponseMessage?>(request.RequestUri!.Host.Contains(".blob.", StringComparison.Ordinal)
                ? RecordingHandler.Error(HttpStatusCode.NotFound, "ContainerNotFound", xml: true)
                : RecordingHandler.Error(HttpStatusCode.NotFound, "ResourceNotFound")),
        };
        using var storage = RegisteredStorage.Create("", wire, new Dictionary<string, string?> { ["AuditStorage:accountName"] = "auditacct" },
            services => services.AddSingleton(credential.Object));

        var row = await storage.Tables.GetTableClient("AuditEvents").FindAsync("pk", "rk", Ct);
        var exists = await storage.Blobs.GetBlobContainerClient("audit-exports").ExistsAsync(Ct);

        Assert.Null(row);
        Assert.False(exists.Value);
        Assert.False(storage.Blobs.CanGenerateAccountSasUri); // no key: links need a user delegation key
        var requests = wire.Requests.ToList();
        Assert.Equal(["auditacct.table.core.windows.net", "auditacct.blob.core.windows.net"], requests.Select(r => r.Uri.Host));
        Assert.All(requests, r => Assert.Equal(("https", "Bearer token-1"), (r.Uri.Scheme, r.Authorization)));
    }

    [Theory]
    [InlineData("auditacct", null, null)]
    [InlineData(null, "https://auditacct.blob.core.windows.net", "accountName")] // needs all three URIs without an account name
    [InlineData("Not-Valid", null, "accountName")]
    [InlineData("auditacct", "http://auditacct.blob.core.windows.net", "https")]
    public void Identity_settings_are_checked(string? accountName, string? blobUri, string? problem)
    {
        var options = new AuditStorageOptions { ConnectionString = "", AccountName = accountName, BlobServiceUri = blobUri is null ? null : new Uri(blobUri) };

        if (problem is null)
        {
            Assert.Null(options.Problem());
        }
        else
        {
            Assert.Contains(problem, options.Problem(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("AccountName=acct")]
    [InlineData("AccountKey=c2VjcmV0")]
    [InlineData("AccountName=acct;AccountKey=not base64 at all!")]
    [InlineData("garbage")]
    public void Unusable_connection_strings_are_refused_without_repeating_them(string connectionString)
    {
        var problem = new AuditStorageOptions { ConnectionString = connectionString }.Problem();

        Assert.NotNull(problem);
        Assert.DoesNotContain("c2VjcmV0", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("not base64", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_busy_then_success_is_retried()
    {
        var wire = new RecordingHandler
        {
            Answer = (_, n, _) => Task.FromResult<HttpResponseMessage?>(n < 3 ? RecordingHandler.Error(HttpStatusCode.ServiceUnavailable, "ServerBusy") : new HttpResponseMessage(HttpStatusCode.NoContent)),
        };
        using var storage = Scripted(wire);

        await storage.Tables.GetTableClient("T").UpsertEntityAsync(new TableEntity("p", "r") { ["V"] = 1 }, cancellationToken: Ct);

        Assert.Equal(3, wire.Requests.Count);
    }

    [Theory]
    [InlineData("Retry-After", "3600")]
    [InlineData("x-ms-retry-after-ms", "3600000")]
    public async Task A_Retry_After_beyond_the_longest_back_off_is_not_waited_for(string header, string value)
    {
        var wire = new RecordingHandler
        {
            Answer = (_, n, _) =>
            {
                var answer = n == 1 ? RecordingHandler.Error(HttpStatusCode.ServiceUnavailable, "ServerBusy") : new HttpResponseMessage(HttpStatusCode.NoContent);
                answer.Headers.TryAddWithoutValidation(header, value);
                return Task.FromResult<HttpResponseMessage?>(answer);
            },
        };
        using var storage = Scripted(wire);
        // A bound, not a timing: honouring the header would wait an hour and end here instead.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(30));

        await storage.Tables.GetTableClient("T").UpsertEntityAsync(new TableEntity("p", "r"), cancellationToken: bound.Token);

        Assert.Equal(2, wire.Requests.Count);
    }

    [Fact]
    public async Task Lasting_throttling_with_a_long_Retry_After_ends_with_the_services_own_error()
    {
        var wire = new RecordingHandler
        {
            Answer = (_, _, _) =>
            {
                var answer = RecordingHandler.Error(HttpStatusCode.ServiceUnavailable, "ServerBusy");
                answer.Headers.TryAddWithoutValidation("Retry-After", "3600");
                return Task.FromResult<HttpResponseMessage?>(answer);
            },
        };
        using var storage = Scripted(wire);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(30));

        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => storage.Tables.GetTableClient("T").AddEntityAsync(new TableEntity("p", "r"), bound.Token));

        Assert.Equal(4, wire.Requests.Count);
        Assert.Equal((503, "ServerBusy"), (ex.Status, ex.ErrorCode));
        Assert.Contains("ServerBusy (scripted)", ex.Message, StringComparison.Ordinal); // the table service's own message, read from its body
    }

    [Fact]
    public async Task A_single_try_that_times_out_is_storage_unavailable_and_the_callers_own_cancellation_is_not()
    {
        var wire = new RecordingHandler
        {
            Answer = async (_, _, tryCancelled) =>
            {
                await Task.Delay(TimeSpan.FromMinutes(1), tryCancelled);
                return null;
            },
        };
        using var storage = Scripted(wire, new Dictionary<string, string?>(FastRetries) { ["AuditStorage:Retry:MaxRetries"] = "0", ["AuditStorage:Retry:TryTimeout"] = "00:00:00.200" });
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        // With no retries the try timeout surfaces as it is, a cancellation nobody asked for.
        var timeout = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => storage.Tables.GetTableClient("T").FindAsync("p", "r", caller.Token));
        var timeoutIsUnavailable = StorageFailures.IsUnavailable(timeout, caller.Token);
        caller.CancelAfter(TimeSpan.FromMilliseconds(50));
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => storage.Tables.GetTableClient("T").FindAsync("p", "r", caller.Token));

        Assert.True(timeoutIsUnavailable);
        Assert.False(StorageFailures.IsUnavailable(cancelled, caller.Token));
    }

    [Fact]
    public async Task A_connection_reset_while_the_answer_is_read_is_storage_unavailable()
    {
        var wire = new RecordingHandler
        {
            Answer = (_, _, _) => Task.FromResult<HttpResponseMessage?>(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new ResetWhileRead()) }),
        };
        using var storage = Scripted(wire, new Dictionary<string, string?>(FastRetries) { ["AuditStorage:Retry:MaxRetries"] = "0" });

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => storage.Tables.GetTableClient("T").FindAsync("p", "r", Ct));

        Assert.True(StorageFailures.IsUnavailable(ex, Ct), ex.GetType().Name);
    }

    /// <summary>An answer body whose connection is reset after the headers, as a crashed service's is.</summary>
    private sealed class ResetWhileRead : MemoryStream
    {
        public override int Read(byte[] buffer, int offset, int count) => throw new IOException("connection reset by peer (scripted)");

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            throw new IOException("connection reset by peer (scripted)");

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            throw new IOException("connection reset by peer (scripted)");
    }

    [Fact]
    public async Task Lasting_server_busy_is_storage_unavailable_after_the_configured_retries()
    {
        var wire = new RecordingHandler { Answer = (_, _, _) => Task.FromResult<HttpResponseMessage?>(RecordingHandler.Error(HttpStatusCode.ServiceUnavailable, "ServerBusy")) };
        using var storage = Scripted(wire);

        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => storage.Tables.GetTableClient("T").AddEntityAsync(new TableEntity("p", "r"), Ct));

        Assert.Equal((503, "ServerBusy"), (ex.Status, ex.ErrorCode));
        Assert.Equal(4, wire.Requests.Count); // the first try and MaxRetries = 3
        Assert.True(StorageFailures.IsUnavailable(ex, Ct));
        Assert.StartsWith("Storage answered 503 ServerBusy", StorageFailures.Describe(ex), StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_answer_after_the_last_retry_is_storage_unavailable()
    {
        var wire = new RecordingHandler { Answer = (_, _, _) => throw new HttpRequestException("connection reset (scripted)") };
        using var storage = Scripted(wire);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => storage.Tables.GetTableClient("T").FindAsync("p", "r", Ct));

        Assert.IsType<AggregateException>(ex);
        Assert.Equal(4, wire.Requests.Count);
        Assert.True(StorageFailures.IsUnavailable(ex, Ct));
        Assert.Contains("after 4 tries", StorageFailures.Describe(ex), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_try_that_outlasts_the_try_timeout_is_retried_then_storage_unavailable()
    {
        var wire = new RecordingHandler
        {
            Answer = async (request, _, tryCancelled) =>
            {
                await Task.Delay(TimeSpan.FromMinutes(1), tryCancelled); // storage that never answers; the try timeout must end it
                return null;
            },
        };
        using var storage = Scripted(wire, new Dictionary<string, string?>(FastRetries) { ["AuditStorage:Retry:MaxRetries"] = "1", ["AuditStorage:Retry:TryTimeout"] = "00:00:00.200" });

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => storage.Tables.GetTableClient("T").FindAsync("p", "r", Ct));

        Assert.Equal(2, wire.Requests.Count);
        Assert.True(StorageFailures.IsUnavailable(ex, Ct), ex.ToString());
    }

    [Fact]
    public async Task Client_errors_are_refusals_and_are_not_retried()
    {
        var wire = new RecordingHandler { Answer = (_, _, _) => Task.FromResult<HttpResponseMessage?>(RecordingHandler.Error(HttpStatusCode.BadRequest, "InvalidInput")) };
        using var storage = Scripted(wire);

        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => storage.Tables.GetTableClient("T").AddEntityAsync(new TableEntity("p", "r"), Ct));

        Assert.Single(wire.Requests);
        Assert.Equal("InvalidInput", ex.ErrorCode);
        Assert.True(StorageFailures.IsRefusal(ex));
        Assert.False(StorageFailures.IsRefusal(ex, 400)); // unless the caller expects that status
        Assert.False(StorageFailures.IsUnavailable(ex, Ct));
    }
}
