using System.Net;
using System.Text;
using AuditTrail.Core.Storage;

namespace AuditTrail.Tests.Storage;

/// <summary>
/// Behaviour Azurite cannot be made to show: throttling, resets, empty continuation pages.
/// A scripted transport stands in for the service here, and only here.
/// </summary>
public sealed class RetryAndPagingTests
{
    private static readonly StorageAccount Account = StorageAccount.Parse("UseDevelopmentStorage=true");
    private static readonly StorageRetryOptions FastRetries = new() { MaxRetries = 3, Delay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };

    [Fact]
    public async Task Server_busy_then_success_is_retried_and_each_try_is_signed_afresh()
    {
        var fake = new FakeStorageHandler(
            _ => FakeStorageHandler.Status(HttpStatusCode.ServiceUnavailable, "{\"odata.error\":{\"code\":\"ServerBusy\",\"message\":{\"value\":\"busy\"}}}"),
            FakeStorageHandler.Throw,
            _ => FakeStorageHandler.Status(HttpStatusCode.NoContent));
        using var clients = new StorageClients(Account, FastRetries, transport: fake);

        await clients.GetTable("T").UpsertEntityAsync(new TableEntity("p", "r") { ["V"] = 1 }, TestContext.Current.CancellationToken);

        Assert.Equal(3, fake.Requests.Count);
        Assert.All(fake.Requests, r => Assert.StartsWith("SharedKey devstoreaccount1:", r.Authorization, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Persistent_server_busy_surfaces_as_a_typed_transient_error_after_the_retry_budget()
    {
        var fake = new FakeStorageHandler(_ => FakeStorageHandler.Status(HttpStatusCode.ServiceUnavailable, "{\"odata.error\":{\"code\":\"ServerBusy\",\"message\":{\"value\":\"busy\"}}}"));
        using var clients = new StorageClients(Account, FastRetries, transport: fake);

        var ex = await Assert.ThrowsAsync<StorageRequestException>(() => clients.GetTable("T").AddEntityAsync(new TableEntity("p", "r"), TestContext.Current.CancellationToken));

        Assert.Equal(503, ex.Status);
        Assert.Equal("ServerBusy", ex.ErrorCode);
        Assert.True(ex.IsTransient);
        Assert.Equal(1 + FastRetries.MaxRetries, fake.Requests.Count);
    }

    [Fact]
    public async Task No_response_at_all_surfaces_as_status_0_after_the_retry_budget()
    {
        var fake = new FakeStorageHandler(FakeStorageHandler.Throw);
        using var clients = new StorageClients(Account, FastRetries, transport: fake);

        var ex = await Assert.ThrowsAsync<StorageRequestException>(() => clients.GetTable("T").GetEntityAsync("p", "r", TestContext.Current.CancellationToken));

        Assert.Equal(0, ex.Status);
        Assert.True(ex.IsTransient);
        Assert.Equal(4, fake.Requests.Count);
    }

    [Fact]
    public async Task Client_errors_are_not_retried()
    {
        var fake = new FakeStorageHandler(_ => FakeStorageHandler.Status(HttpStatusCode.BadRequest, "{\"odata.error\":{\"code\":\"InvalidInput\",\"message\":{\"value\":\"bad\"}}}"));
        using var clients = new StorageClients(Account, FastRetries, transport: fake);

        var ex = await Assert.ThrowsAsync<StorageRequestException>(() => clients.GetTable("T").AddEntityAsync(new TableEntity("p", "r"), TestContext.Current.CancellationToken));

        Assert.Equal("InvalidInput", ex.ErrorCode);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task Empty_page_with_a_continuation_is_followed_not_taken_as_the_end()
    {
        HttpResponseMessage Page(string body, string? nextPk, string? nextRk)
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            if (nextPk is not null)
            {
                response.Headers.Add("x-ms-continuation-NextPartitionKey", nextPk);
            }
            if (nextRk is not null)
            {
                response.Headers.Add("x-ms-continuation-NextRowKey", nextRk);
            }
            return response;
        }
        var fake = new FakeStorageHandler(
            _ => Page("{\"value\":[{\"PartitionKey\":\"p\",\"RowKey\":\"1\"}]}", "1!p", "1!r2"),
            _ => Page("{\"value\":[]}", "1!p", "1!r3"),
            _ => Page("{\"value\":[{\"PartitionKey\":\"p\",\"RowKey\":\"3\"}]}", null, null));
        using var clients = new StorageClients(Account, FastRetries, transport: fake);

        var rows = await clients.GetTable("T").QueryAsync(new TableQuery("PartitionKey eq 'p'"), TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["1", "3"], rows.Select(r => r.RowKey));
        Assert.Contains("NextPartitionKey=1%21p", fake.Requests[1].Uri.Query, StringComparison.Ordinal);
        Assert.Contains("NextRowKey=1%21r3", fake.Requests[2].Uri.Query, StringComparison.Ordinal);
    }

    [Fact]
    public void Transaction_failure_body_yields_status_code_and_index()
    {
        const string body = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n--changesetresponse_2\r\n"
                            + "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-ID: 4\r\n"
                            + "Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
                            + "{\"odata.error\":{\"code\":\"EntityAlreadyExists\",\"message\":{\"lang\":\"en-US\",\"value\":\"3:The specified entity already exists.\\nRequestId:x\"}}}\r\n"
                            + "--changesetresponse_2--\r\n--batchresponse_1--\r\n";

        var failure = TableClient.ParseTransactionFailure(body, 5);

        Assert.NotNull(failure);
        Assert.Equal(409, failure.Status);
        Assert.Equal("EntityAlreadyExists", failure.ErrorCode);
        Assert.Equal(3, failure.FailedActionIndex);
    }
}
