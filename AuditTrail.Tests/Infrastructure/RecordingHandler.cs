using System.Collections.Concurrent;
using System.Net;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>One request as the storage clients sent it.</summary>
public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? Authorization, long? ContentLength, string Body);

/// <summary>
/// A transport for the storage clients that records every request and then answers it: from
/// <see cref="Answer"/> when that gives a response (a storage behaviour Azurite cannot be made to
/// show: throttling, resets, slowness), otherwise from the real service behind it.
/// </summary>
public sealed class RecordingHandler : DelegatingHandler
{
    /// <param name="upstream">The real service's transport; null for a transport that only answers from the script.</param>
    public RecordingHandler(HttpMessageHandler? upstream = null) => InnerHandler = upstream ?? new NoUpstream();

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>
    /// The scripted answer to a request (given its number, from 1, and the request's own
    /// cancellation, which a try timeout cancels), or null to send it on. May throw, as a failed
    /// connection does.
    /// </summary>
    public Func<HttpRequestMessage, int, CancellationToken, Task<HttpResponseMessage?>> Answer { get; set; } = (_, _, _) => Task.FromResult<HttpResponseMessage?>(null);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
        Requests.Enqueue(new RecordedRequest(request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), request.Content?.Headers.ContentLength, body));
        return await Answer(request, Requests.Count, cancellationToken) ?? await base.SendAsync(request, cancellationToken);
    }

    /// <summary>An answer with a storage error code, and the body the service writes: JSON from tables, XML from blobs and queues.</summary>
    public static HttpResponseMessage Error(HttpStatusCode status, string code, bool xml = false)
    {
        var response = new HttpResponseMessage(status)
        {
            Content = xml
                ? new StringContent($"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{code} (scripted)</Message></Error>", System.Text.Encoding.UTF8, "application/xml")
                : new StringContent("{\"odata.error\":{\"code\":\"" + code + "\",\"message\":{\"lang\":\"en-US\",\"value\":\"" + code + " (scripted)\"}}}", System.Text.Encoding.UTF8, "application/json"),
        };
        response.Headers.Add("x-ms-error-code", code);
        return response;
    }

    private sealed class NoUpstream : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"The script has no answer for {request.Method} {request.RequestUri}.");
    }
}
