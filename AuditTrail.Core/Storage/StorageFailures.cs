using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Storage;

/// <summary>
/// How a storage call failed, in the terms the app answers with. The SDK throws
/// <see cref="RequestFailedException"/> for an error status (status 0 when no answer came); when
/// tries threw (a reset, a try timeout), the last of them as it is if it was the only one, else an
/// <see cref="AggregateException"/> of them. A try timeout is an <see cref="OperationCanceledException"/>
/// that the caller did not ask for; a connection reset while the answer was read, an <see cref="IOException"/>.
/// </summary>
public static class StorageFailures
{
    /// <summary>
    /// Storage could not be reached, did not answer in time, or answered that it is busy or failing:
    /// nothing was acknowledged, and trying again later may succeed. A cancellation counts only if
    /// <paramref name="caller"/> (the caller's own token) was not cancelled: then it was a try timeout.
    /// </summary>
    public static bool IsUnavailable(Exception exception, CancellationToken caller = default) => exception switch
    {
        RequestFailedException r => IsTransientStatus(r.Status),
        // The tries that threw; the last is the one that ended the retries.
        AggregateException { InnerExceptions.Count: > 0 } a => IsUnavailable(a.InnerExceptions[^1], caller),
        OperationCanceledException => !caller.IsCancellationRequested,
        IOException or HttpRequestException or TimeoutException => true,
        _ => false,
    };

    /// <summary>
    /// Storage answered, and said no for good: a 4xx other than 408 and 429, which a retry would
    /// meet again. <paramref name="expected"/> are the statuses the caller handles itself (a 409 on
    /// an insert, say), which are not refusals of the request as such.
    /// </summary>
    public static bool IsRefusal(Exception exception, params ReadOnlySpan<int> expected) =>
        exception is RequestFailedException { Status: >= 400 and < 500 } r && !IsTransientStatus(r.Status) && !expected.Contains(r.Status);

    /// <summary>Throttling, server errors, timeouts, and no answer at all (status 0).</summary>
    public static bool IsTransientStatus(int status) => status is 0 or 408 or 429 or >= 500;

    /// <summary>One line for logs: the status and error code, the failed action of a transaction, or why no answer came.</summary>
    public static string Describe(Exception exception) => exception switch
    {
        TableTransactionFailedException t => $"Transaction failed at action {(t.FailedTransactionActionIndex is { } i ? i : -1)} with {t.Status} {t.ErrorCode}: {FirstLine(t.Message)}",
        RequestFailedException { Status: 0 } r => $"No answer from storage: {FirstLine(r.InnerException?.Message ?? r.Message)}",
        RequestFailedException r => $"Storage answered {r.Status} {r.ErrorCode}: {FirstLine(r.Message)}",
        AggregateException a => $"No answer from storage after {a.InnerExceptions.Count} tries: {FirstLine(a.InnerExceptions[^1] is RequestFailedException { InnerException: { } inner } ? inner.Message : a.InnerExceptions[^1].Message)}",
        OperationCanceledException => "Storage did not answer in time",
        _ => FirstLine(exception.Message),
    };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
