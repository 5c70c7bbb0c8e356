using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using AuditTrail.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Ingestion;

/// <summary>Which try of an Event Hubs batch an invocation is: from the host's <c>Metadata.RetryContext</c>.</summary>
/// <param name="Key">The batch's identity on every try (partition, first sequence number, count), when the metadata has it.</param>
/// <param name="RetryCount">Retries before this one (0 on the first try).</param>
/// <param name="MaxRetryCount">The policy's limit; -1 retries forever.</param>
public sealed record BatchAttempt(string? Key, int RetryCount, int MaxRetryCount)
{
    /// <summary>
    /// A try without a retry context: the first one (the host adds the context on retries). The
    /// function's policy (function.json) retries without end, so no limit is assumed.
    /// </summary>
    public static BatchAttempt First(string? key) => new(key, 0, -1);

    /// <summary>The host will not try this batch again: after this answer it checkpoints past it, whatever the answer.</summary>
    public bool IsLast => MaxRetryCount >= 0 && RetryCount >= MaxRetryCount;
}

public sealed class IngestionOptions
{
    public const string Section = "AuditTrail:Ingestion";

    /// <summary>
    /// Tries of one Event Hubs batch that may fail for a reason other than storage being
    /// unavailable before the batch is dead-lettered whole and acknowledged.
    /// </summary>
    [Range(1, 100)]
    public int MaxFailedAttempts { get; set; } = 5;
}

/// <summary>What became of an Event Hubs batch: ingested, or dead-lettered whole after failing.</summary>
public sealed record BatchOutcome(IngestResult? Result, string? DeadLetterBlob, string? Reason);

/// <summary>
/// The poison policy for Event Hubs batches: each goes through <see cref="IngestionService"/>, under the host's retry policy
/// (<c>maxRetryCount: -1</c>: a batch is retried until it succeeds, and its partition waits). That
/// is right while storage is unavailable, which passes, and wrong for a failure that repeats on
/// every try (a bug, a payload the code cannot take), which would stop the partition for good.
/// So a batch that failed <see cref="IngestionOptions.MaxFailedAttempts"/> times for any other
/// reason, or on the host's last try, is dead-lettered whole, raw, with the reason, and
/// acknowledged. A storage outage still fails the invocation every time: nothing is dropped.
/// </summary>
public sealed class BatchPoisonPolicy(IngestionService ingestion, IOptions<IngestionOptions> options, ILogger<BatchPoisonPolicy> logger)
{
    private const int MaxTracked = 10_000;

    // Failed tries per batch. In memory, as the host's own retry state is: after a restart both
    // start again from the last checkpoint, and a batch gets its tries again.
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    public async Task<BatchOutcome> IngestAsync(IReadOnlyList<RawEvent> events, ReadOnlyMemory<byte> payload, BatchAttempt attempt, IngestContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        // Without the metadata's identity, the events' own bytes (the payload changes per try: its
        // sys block and retry context are new each time).
        var key = attempt.Key ?? BatchHash(events);
        try
        {
            var result = await ingestion.IngestAsync(events, context, cancellationToken);
            _failures.TryRemove(key, out _);
            return new BatchOutcome(result, null, null);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && !StorageFailures.IsUnavailable(ex, cancellationToken) && !IsAccessFailure(ex))
        {
            if (_failures.Count > MaxTracked)
            {
                _failures.Clear();
            }
            var failed = _failures.AddOrUpdate(key, 1, (_, n) => n + 1);
            logger.LogError(ex, "Event Hubs batch {BatchKey} failed ({Failed} of {MaxFailedAttempts} tries; host retry {RetryCount} of {MaxRetryCount}); invocation {InvocationId}",
                key, failed, options.Value.MaxFailedAttempts, attempt.RetryCount, attempt.MaxRetryCount, context.InvocationId);
            if (failed < options.Value.MaxFailedAttempts && !attempt.IsLast)
            {
                throw;
            }
            var reason = $"The batch failed {failed} time(s) for a reason other than storage being unavailable{(attempt.IsLast ? ", the last the host would try" : string.Empty)}: {ex.GetType().Name}: {StorageFailures.Describe(ex)}";
            var blob = await ingestion.DeadLetterUnreadableAsync(payload, RejectionCodes.BatchFailed, reason, context, cancellationToken);
            _failures.TryRemove(key, out _);
            return new BatchOutcome(null, blob, reason);
        }
    }

    /// <summary>
    /// Storage refusing the app itself (a role or firewall rule gone, a credential that cannot get
    /// a token) is an outage of the app's access, which an operator fixes; not a bad batch.
    /// </summary>
    private static bool IsAccessFailure(Exception ex) =>
        ex is Azure.Identity.AuthenticationFailedException or Azure.Identity.CredentialUnavailableException
        || ex is Azure.RequestFailedException { Status: 401 or 403 }
        || (ex is AggregateException { InnerExceptions.Count: > 0 } a && IsAccessFailure(a.InnerExceptions[^1]));

    private static string BatchHash(IReadOnlyList<RawEvent> events)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in events)
        {
            e.AppendTo(hash);
            hash.AppendData([0x1e]);
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
