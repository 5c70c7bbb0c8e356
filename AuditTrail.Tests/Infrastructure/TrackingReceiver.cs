using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>
/// A local stand-in for the HTTP tracking API on 127.0.0.1: checks each <c>/v1/batch</c> request
/// the way the API documents it (JSON, Basic auth with the write key and an empty password, fewer
/// than 500,000 bytes per batch, 32 KB per call, track calls with event, messageId under 100
/// characters and a userId or anonymousId) and answers with the statuses a test scripts. A request
/// with another key is answered 401, as the API does. Requests that pass the checks and are
/// answered 2xx are "accepted": those are what the source would keep.
/// </summary>
public sealed class TrackingReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<int> _script = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<JsonElement> _accepted = new();
    private readonly ConcurrentQueue<int> _bodySizes = new();
    private int _requests;
    private int _unauthorized;

    private TrackingReceiver(WebApplication app) => _app = app;

    public required string WriteKey { get; init; }

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Status for requests once the script runs out.</summary>
    public int DefaultStatus { get; set; } = 200;

    /// <summary>Body of non-2xx answers; a test may make it echo what it was sent.</summary>
    public Func<HttpRequest, string> ErrorBody { get; set; } = _ => """{"error":"failed"}""";

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests answered 401 because they carried another write key.</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>The byte length of every request body received.</summary>
    public IReadOnlyCollection<int> BodySizes => _bodySizes;

    /// <summary>Reason phrase of non-2xx answers (the status line's text); a test may make it echo what it was sent.</summary>
    public Func<HttpRequest, string>? ReasonPhrase { get; set; }

    /// <summary>The <c>Location</c> of 3xx answers.</summary>
    public Uri? RedirectTo { get; set; }

    /// <summary>While set, every request waits for it before it is answered: a source that holds its answer.</summary>
    public TaskCompletionSource? Hold { get; set; }

    public IReadOnlyCollection<string> Violations => _violations;

    /// <summary>Every track call in an accepted request, in arrival order (repeats included).</summary>
    public IReadOnlyList<JsonElement> AcceptedCalls => _accepted.ToList();

    /// <summary>The accepted calls once the receiver has dropped repeats by messageId, as the tracking API does.</summary>
    public IReadOnlyDictionary<string, JsonElement> DistinctByMessageId =>
        AcceptedCalls.GroupBy(c => c.GetProperty("messageId").GetString()!).ToDictionary(g => g.Key, g => g.First());

    public void Script(params int[] statuses)
    {
        foreach (var s in statuses)
        {
            _script.Enqueue(s);
        }
    }

    public static async Task<TrackingReceiver> StartAsync(string writeKey, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new TrackingReceiver(app) { WriteKey = writeKey };
        app.MapPost("/v1/batch", receiver.HandleAsync);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        _bodySizes.Enqueue(body.Length);
        if (Hold is { } hold)
        {
            await hold.Task.WaitAsync(context.RequestAborted);
        }
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(WriteKey + ":"));
        if (context.Request.Headers.Authorization.ToString() != expected)
        {
            Interlocked.Increment(ref _unauthorized);
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error":"wrong write key"}""", context.RequestAborted);
            return;
        }
        var status = _script.TryDequeue(out var scripted) ? scripted : DefaultStatus;
        var problems = Check(context.Request, body);
        foreach (var p in problems)
        {
            _violations.Enqueue(p);
        }
        if (problems.Count > 0)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync(string.Join("; ", problems), context.RequestAborted);
            return;
        }
        if (status is >= 200 and < 300)
        {
            using var doc = JsonDocument.Parse(body);
            foreach (var call in doc.RootElement.GetProperty("batch").EnumerateArray())
            {
                _accepted.Enqueue(call.Clone());
            }
            context.Response.StatusCode = status;
            await context.Response.WriteAsync("""{"success":true}""", context.RequestAborted);
            return;
        }
        context.Response.StatusCode = status;
        if (ReasonPhrase is not null)
        {
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseFeature>()!.ReasonPhrase = ReasonPhrase(context.Request);
        }
        if (status is >= 300 and < 400 && RedirectTo is not null)
        {
            context.Response.Headers.Location = RedirectTo.ToString();
        }
        await context.Response.WriteAsync(ErrorBody(context.Request), context.RequestAborted);
    }

    private static List<string> Check(HttpRequest request, byte[] body)
    {
        var problems = new List<string>();
        if (request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true)
        {
            problems.Add($"Content-Type {request.ContentType}");
        }
        if (body.Length >= 500_000)
        {
            problems.Add($"batch of {body.Length} bytes");
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            var batch = doc.RootElement.GetProperty("batch");
            if (batch.GetArrayLength() is 0 or > 2500)
            {
                problems.Add($"batch of {batch.GetArrayLength()} calls");
            }
            foreach (var call in batch.EnumerateArray())
            {
                if (Encoding.UTF8.GetByteCount(call.GetRawText()) > 32 * 1024)
                {
                    problems.Add("call over 32 KB");
                }
                if (call.GetProperty("type").GetString() != "track" || string.IsNullOrEmpty(call.GetProperty("event").GetString()))
                {
                    problems.Add("not a track call with an event");
                }
                if (call.GetProperty("messageId").GetString() is not { Length: > 0 and < 100 })
                {
                    problems.Add("messageId missing or 100+ characters");
                }
                if (!call.TryGetProperty("userId", out _) && !call.TryGetProperty("anonymousId", out _))
                {
                    problems.Add("neither userId nor anonymousId");
                }
                if (!call.TryGetProperty("timestamp", out var ts) || !DateTimeOffset.TryParse(ts.GetString(), System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    problems.Add("timestamp missing or not ISO 8601");
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            problems.Add($"not a batch body: {ex.Message}");
        }
        return problems;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
