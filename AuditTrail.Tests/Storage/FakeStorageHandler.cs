using System.Net;

namespace AuditTrail.Tests.Storage;

/// <summary>A scripted transport: answers each request with the next response in line, and records what it saw.</summary>
internal sealed class FakeStorageHandler(params Func<HttpRequestMessage, HttpResponseMessage>[] script) : HttpMessageHandler
{
    private int _next;

    public List<(HttpMethod Method, Uri Uri, string? Authorization, string? Date)> Requests { get; } = [];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Add((request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(),
            request.Headers.TryGetValues("x-ms-date", out var d) ? d.First() : null));
        var step = script[Math.Min(_next++, script.Length - 1)];
        return Task.FromResult(step(request));
    }

    public static HttpResponseMessage Status(HttpStatusCode status, string body = "") =>
        new(status) { Content = new StringContent(body) };

    public static HttpResponseMessage Throw(HttpRequestMessage _) => throw new HttpRequestException("connection reset (simulated)");
}
