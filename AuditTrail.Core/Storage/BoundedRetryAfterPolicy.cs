using System.Diagnostics.CodeAnalysis;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace AuditTrail.Core.Storage;

/// <summary>
/// Keeps the storage clients' back-off within <c>AuditStorage:Retry:MaxDelay</c>. The SDK's retry
/// policy waits for whatever a service's <c>Retry-After</c> says, however long; a throttled
/// request would then hold its caller past any client's timeout. Sitting after the retry policy
/// (once per try), this hides a <c>Retry-After</c> longer than the bound from an answer that will
/// be retried, so the policy falls back to its own exponential delay; shorter ones are honoured as
/// they are. The answer that ends the retries is left as it came, so the error the caller sees
/// carries the service's own code and message.
/// </summary>
internal sealed class BoundedRetryAfterPolicy(TimeSpan maxDelay, int maxRetries) : HttpPipelinePolicy
{
    private const string TriesProperty = "AuditTrail.Storage.Tries";
    private static readonly string[] RetryAfterHeaders = ["Retry-After", "retry-after-ms", "x-ms-retry-after-ms"];

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        await ProcessNextAsync(message, pipeline);
        Bound(message);
    }

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        ProcessNext(message, pipeline);
        Bound(message);
    }

    private void Bound(HttpMessage message)
    {
        // This policy runs once per try, so it counts them; a try after the last retry is not retried.
        var tries = message.TryGetProperty(TriesProperty, out var counted) && counted is int n ? n + 1 : 1;
        message.SetProperty(TriesProperty, tries);
        if (tries <= maxRetries && message.HasResponse && message.ResponseClassifier.IsRetriableResponse(message)
            && RetryAfter(message.Response) is { } wait && wait > maxDelay)
        {
            message.Response = new WithoutRetryAfter(message.Response);
        }
    }

    /// <summary>The longest wait any of the headers asks for: milliseconds, seconds or an HTTP date.</summary>
    private static TimeSpan? RetryAfter(Response response)
    {
        TimeSpan? longest = null;
        void Consider(TimeSpan wait) => longest = longest is { } l && l >= wait ? l : wait;
        foreach (var name in RetryAfterHeaders.Skip(1))
        {
            if (response.Headers.TryGetValue(name, out var ms) && double.TryParse(ms, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var milliseconds))
            {
                Consider(Wait(milliseconds / 1000));
            }
        }
        if (response.Headers.TryGetValue(RetryAfterHeaders[0], out var after))
        {
            if (double.TryParse(after, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
            {
                Consider(Wait(seconds));
            }
            else if (DateTimeOffset.TryParse(after, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
            {
                Consider(at - DateTimeOffset.UtcNow);
            }
        }
        return longest;
    }

    /// <summary>A wait of so many seconds; a hostile or absurd value is the longest wait there is, never an overflow.</summary>
    private static TimeSpan Wait(double seconds) =>
        double.IsNaN(seconds) || seconds <= 0 ? TimeSpan.Zero
        : seconds >= TimeSpan.MaxValue.TotalSeconds ? TimeSpan.MaxValue
        : TimeSpan.FromSeconds(seconds);

    /// <summary>The service's answer as it was, but for its Retry-After headers.</summary>
    private sealed class WithoutRetryAfter(Response inner) : Response
    {
        public override int Status => inner.Status;

        public override string ReasonPhrase => inner.ReasonPhrase;

        public override bool IsError => inner.IsError;

        public override Stream? ContentStream
        {
            get => inner.ContentStream;
            set => inner.ContentStream = value;
        }

        public override string ClientRequestId
        {
            get => inner.ClientRequestId;
            set => inner.ClientRequestId = value;
        }

        public override void Dispose() => inner.Dispose();

        protected override bool TryGetHeader(string name, [NotNullWhen(true)] out string? value)
        {
            value = null;
            return !Hidden(name) && inner.Headers.TryGetValue(name, out value);
        }

        protected override bool TryGetHeaderValues(string name, [NotNullWhen(true)] out IEnumerable<string>? values)
        {
            values = null;
            return !Hidden(name) && inner.Headers.TryGetValues(name, out values);
        }

        protected override bool ContainsHeader(string name) => !Hidden(name) && inner.Headers.Contains(name);

        protected override IEnumerable<HttpHeader> EnumerateHeaders() => inner.Headers.Where(h => !Hidden(h.Name));

        private static bool Hidden(string name) => RetryAfterHeaders.Contains(name, StringComparer.OrdinalIgnoreCase);
    }
}
