namespace AuditTrail.Core.Storage;

/// <summary>
/// A storage service answered with an error status. Carries the HTTP status and the service's
/// error code (for example <c>EntityAlreadyExists</c>) so callers branch on data, not on text.
/// </summary>
public class StorageRequestException : Exception
{
    public StorageRequestException(int status, string? errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        ErrorCode = errorCode;
    }

    public StorageRequestException()
    {
    }

    public StorageRequestException(string message) : base(message)
    {
    }

    public StorageRequestException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>HTTP status; 0 when no response arrived (network failure or timeout after retries).</summary>
    public int Status { get; }

    public string? ErrorCode { get; }

    /// <summary>Whether trying again later may succeed: throttling, server errors, timeouts, no response.</summary>
    public bool IsTransient => Status is 0 or 408 or 429 or >= 500;
}

/// <summary>
/// An entity-group transaction was rejected as a whole because one of its actions failed.
/// Nothing in the transaction was applied.
/// </summary>
public sealed class TableTransactionFailedException : StorageRequestException
{
    public TableTransactionFailedException(int status, string? errorCode, int failedActionIndex, string message)
        : base(status, errorCode, message)
    {
        FailedActionIndex = failedActionIndex;
    }

    public TableTransactionFailedException()
    {
    }

    public TableTransactionFailedException(string message) : base(message)
    {
    }

    public TableTransactionFailedException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>0-based index of the failing action in the submitted list; -1 when the service did not say.</summary>
    public int FailedActionIndex { get; } = -1;
}
