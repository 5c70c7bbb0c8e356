using Azure;
using Azure.Data.Tables;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AuditTrail.Tests.Hosting;

/// <summary>
/// What each way a storage call can fail becomes in an answer. The storage clients throw these
/// shapes (see StorageRegistrationTests for how each arises); none may become a 500, and nothing
/// after the client went away may be reported as an outage.
/// </summary>
public sealed class ProblemDetailsMapTests
{
    private static readonly Exception NoAnswer = new RequestFailedException(0, "Connection refused (scripted)");

    public static TheoryData<string, Exception> StorageDown() => new()
    {
        { "a 503 after the last retry", new RequestFailedException(503, "busy", "ServerBusy", null) },
        { "no answer, the only try", NoAnswer },
        { "no answer after the last retry", new AggregateException(NoAnswer, NoAnswer, NoAnswer) },
        { "a try timeout, the only failure", new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout (scripted)") },
        { "503s, then a try timeout", new AggregateException(new TaskCanceledException("timeout (scripted)")) },
        { "a reset while the answer was read", new IOException("connection reset by peer (scripted)") },
        { "a failed action inside a transaction, 500", new TableTransactionFailedException(new RequestFailedException(500, "2:The server encountered an internal error.", "InternalError", null)) },
    };

    [Theory]
    [MemberData(nameof(StorageDown))]
    public void Storage_that_is_down_or_slow_is_503_storage_unavailable(string _, Exception failure)
    {
        var (status, code, _, _, _) = ProblemDetailsMap.Map(failure, new DefaultHttpContext());

        Assert.Equal((503, "storage_unavailable"), (status, code));
    }

    [Theory]
    [MemberData(nameof(StorageDown))]
    public void Anything_thrown_once_the_client_has_gone_is_499_not_an_outage(string _, Exception failure)
    {
        var context = new DefaultHttpContext();
        using var aborted = new CancellationTokenSource();
        context.Features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = aborted.Token });
        aborted.Cancel();

        var (status, code, _, _, _) = ProblemDetailsMap.Map(failure, context);

        Assert.Equal((499, "client_closed_request"), (status, code));
    }

    [Fact]
    public void A_refusal_by_storage_is_an_internal_error_not_an_outage()
    {
        var (status, code, _, _, _) = ProblemDetailsMap.Map(new RequestFailedException(403, "denied", "AuthorizationPermissionMismatch", null), new DefaultHttpContext());

        Assert.Equal((500, "internal_error"), (status, code));
    }
}
