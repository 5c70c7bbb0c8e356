using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Storage;

/// <summary>
/// Retries transient storage failures (no response, a try that timed out, 408, 429, 5xx) with
/// exponential back-off and jitter, each try bounded by its own timeout. Sits outside the signing
/// handler so every try is signed afresh. Request content must be buffered (the clients send
/// <see cref="ByteArrayContent"/> or <see cref="ReadOnlyMemoryContent"/>), so a try can be sent again.
/// </summary>
public sealed class RetryHandler : DelegatingHandler
{
    private readonly StorageRetryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public RetryHandler(StorageRetryOptions options, ILogger logger, TimeProvider? time = null)
    {
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var tryTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            tryTimeout.CancelAfter(_options.TryTimeout);
            HttpResponseMessage? response = null;
            Exception? failure = null;
            try
            {
                response = await base.SendAsync(request, tryTimeout.Token);
                // Buffer inside the try's deadline so a stalled body counts as a timeout of this try.
                if (response.Content is not null && !IsStreaming(request))
                {
                    await response.Content.LoadIntoBufferAsync(tryTimeout.Token);
                }
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                response?.Dispose();
                response = null;
                failure = new TimeoutException($"Storage request {request.Method} {request.RequestUri?.AbsolutePath} timed out after {_options.TryTimeout}.", ex);
            }
            catch (HttpRequestException ex)
            {
                response?.Dispose();
                response = null;
                failure = ex;
            }

            var transient = response is null || IsTransient((int)response.StatusCode);
            if (!transient)
            {
                return response!;
            }
            if (attempt >= _options.MaxRetries)
            {
                if (response is not null)
                {
                    return response; // the client turns the final error status into a typed exception
                }
                throw new StorageRequestException(0, failure is TimeoutException ? "Timeout" : "NoResponse",
                    $"Storage request {request.Method} {request.RequestUri?.AbsolutePath} failed after {attempt + 1} tries: {failure!.Message}", failure);
            }

            var delay = Backoff(attempt, response);
            _logger.LogWarning(failure,
                "Storage {Method} {Path} try {Attempt} failed with {Status}; retrying in {DelayMs} ms",
                request.Method, request.RequestUri?.AbsolutePath, attempt + 1, response is null ? 0 : (int)response.StatusCode, (int)delay.TotalMilliseconds);
            response?.Dispose();
            await Task.Delay(delay, _time, cancellationToken);
        }
    }

    internal static bool IsTransient(int status) => status is 408 or 429 or >= 500;

    private static bool IsStreaming(HttpRequestMessage request) =>
        request.Options.TryGetValue(StreamingResponse, out var streaming) && streaming;

    /// <summary>Set on a request whose response body is read as a stream (large blob downloads).</summary>
    public static readonly HttpRequestOptionsKey<bool> StreamingResponse = new("AuditTrail.StreamingResponse");

    private TimeSpan Backoff(int attempt, HttpResponseMessage? response)
    {
        if (response?.Headers.RetryAfter?.Delta is { } retryAfter && retryAfter <= _options.MaxDelay)
        {
            return retryAfter;
        }
        var exponential = _options.Delay.TotalMilliseconds * Math.Pow(2, attempt);
        var jittered = exponential * (0.8 + (Random.Shared.NextDouble() * 0.4));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, _options.MaxDelay.TotalMilliseconds));
    }
}
