using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>What the proxy does to one storage request.</summary>
public enum FaultKind
{
    /// <summary>Forward it and relay the answer.</summary>
    None,

    /// <summary>Answer 503 ServerBusy without forwarding (storage throttling).</summary>
    ServerBusy,

    /// <summary>Answer 500 InternalError without forwarding.</summary>
    InternalError,

    /// <summary>Answer 400 InvalidInput without forwarding: a definite refusal, which no retry changes.</summary>
    BadRequest,

    /// <summary>Accept the request and never answer (until <see cref="Fault.Delay"/> passes, then close).</summary>
    Timeout,

    /// <summary>Reset the connection before anything reaches storage.</summary>
    ResetBeforeForward,

    /// <summary>Forward it (storage applies it), then reset the connection instead of relaying the answer.</summary>
    ResetAfterForward,

    /// <summary>Forward it and relay the answer after <see cref="Fault.Delay"/>.</summary>
    Slow,

    /// <summary>
    /// Answer a transaction (<c>$batch</c>) with 202 whose change set holds a 500 InternalError for
    /// action 2, as the Table service reports one failed operation; nothing is forwarded or applied.
    /// </summary>
    TransactionInnerError,
}

public sealed record Fault(FaultKind Kind, TimeSpan Delay = default);

/// <summary>One request as the proxy saw it: service, method, path and query, and the body as text.</summary>
public sealed record ProxiedRequest(string Service, string Method, string Target, string Body)
{
    public bool IsTransaction => Target.Contains("$batch", StringComparison.Ordinal);

    /// <summary>Whether the request is about this table (its path, or a transaction whose operations name it).</summary>
    public bool Touches(string table) => Target.Contains(table, StringComparison.Ordinal)
        || Body.Contains("/" + table + "(", StringComparison.Ordinal)       // an operation on one entity
        || Body.Contains("/" + table + "?", StringComparison.Ordinal)       // an insert (the client adds $format)
        || Body.Contains("/" + table + " HTTP/", StringComparison.Ordinal); // an insert without a query
}

/// <summary>
/// A test-only HTTP/1.1 proxy on a loopback port in front of one Azurite service. It reads each
/// request whole, asks <see cref="Faults"/> what to do with it, and either forwards it or injects a
/// fault: a 503 ServerBusy or 500 answer, silence (the client's per-try timeout fires), a reset
/// before or after storage has applied the request, or a slow answer. When the upstream is down it
/// resets the client's connection. One request per connection (every answer closes it), so the
/// client never retries a request on its own on a reused connection and every try is seen here.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentDictionary<Task, byte> _connections = new();

    public FaultProxy(string service, Uri upstream)
    {
        Service = service;
        Upstream = upstream;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public string Service { get; }

    public int Port { get; }

    /// <summary>Where requests go; changed when Azurite restarts on other ports.</summary>
    public Uri Upstream { get; set; }

    /// <summary>Decides each request's fate; null or <see cref="FaultKind.None"/> forwards it.</summary>
    public Func<ProxiedRequest, Fault?> Faults { get; set; } = _ => null;

    /// <summary>Awaited for each request before it is decided on, so a test can act at an exact point (stop Azurite, say).</summary>
    public Func<ProxiedRequest, Task>? OnRequest { get; set; }

    /// <summary>What <see cref="OnRequest"/> threw.</summary>
    public ConcurrentQueue<Exception> Errors { get; } = new();

    /// <summary>Every request seen, with the fault applied to it.</summary>
    public ConcurrentQueue<(ProxiedRequest Request, FaultKind Fault)> Seen { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var handling = HandleAsync(client);
            _connections.TryAdd(handling, 0);
            _ = handling.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        try
        {
            using var clientStream = new NetworkStream(client, ownsSocket: false);
            var request = await ReadRequestAsync(clientStream, _stop.Token);
            if (request is null)
            {
                return;
            }
            var seen = new ProxiedRequest(Service, request.Method, request.Target, Encoding.UTF8.GetString(request.Body));
            if (OnRequest is { } onRequest)
            {
                try
                {
                    await onRequest(seen);
                }
                catch (Exception ex)
                {
                    Errors.Enqueue(ex); // kept for the test to report; the request is still settled below
                }
            }
            var fault = Faults(seen) ?? new Fault(FaultKind.None);
            Seen.Enqueue((seen, fault.Kind));
            switch (fault.Kind)
            {
                case FaultKind.ServerBusy:
                    await WriteErrorAsync(clientStream, 503, "Server Busy", "ServerBusy", "The server is currently unable to receive requests. Please retry your request.");
                    break;
                case FaultKind.InternalError:
                    await WriteErrorAsync(clientStream, 500, "Internal Server Error", "InternalError", "The server encountered an internal error. Please retry the request.");
                    break;
                case FaultKind.BadRequest:
                    await WriteErrorAsync(clientStream, 400, "Bad Request", "InvalidInput", "One of the request inputs is not valid.");
                    break;
                case FaultKind.Timeout:
                    await Task.Delay(fault.Delay > TimeSpan.Zero ? fault.Delay : TimeSpan.FromSeconds(60), _stop.Token);
                    break;
                case FaultKind.TransactionInnerError:
                    await WriteInnerErrorAsync(clientStream);
                    break;
                case FaultKind.ResetBeforeForward:
                    Reset(client);
                    return;
                default:
                    var answer = await ForwardAsync(request, _stop.Token);
                    if (answer is null || fault.Kind == FaultKind.ResetAfterForward)
                    {
                        Reset(client);
                        return;
                    }
                    if (fault.Kind == FaultKind.Slow)
                    {
                        await Task.Delay(fault.Delay, _stop.Token);
                    }
                    await clientStream.WriteAsync(answer, _stop.Token);
                    break;
            }
            client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the proxy is stopping: nothing to relay.
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>Closes with RST rather than FIN, as a crashed peer or a middlebox does.</summary>
    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    private static Task WriteErrorAsync(NetworkStream stream, int status, string reason, string code, string message)
    {
        var body = Encoding.UTF8.GetBytes($"{{\"odata.error\":{{\"code\":\"{code}\",\"message\":{{\"lang\":\"en-US\",\"value\":\"{message}\"}}}}}}");
        var head = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json;odata=minimalmetadata\r\nx-ms-error-code: {code}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
        return stream.WriteAsync(head.Concat(body).ToArray()).AsTask();
    }

    private static Task WriteInnerErrorAsync(NetworkStream stream)
    {
        const string Batch = "batchresponse_fault";
        const string Changeset = "changesetresponse_fault";
        var body = Encoding.UTF8.GetBytes(
            $"--{Batch}\r\nContent-Type: multipart/mixed; boundary={Changeset}\r\n\r\n"
            + $"--{Changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            + "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n\r\n"
            + "{\"odata.error\":{\"code\":\"InternalError\",\"message\":{\"lang\":\"en-US\",\"value\":\"2:The server encountered an internal error.\"}}}\r\n"
            + $"--{Changeset}--\r\n--{Batch}--\r\n");
        var head = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 202 Accepted\r\nContent-Type: multipart/mixed; boundary={Batch}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
        return stream.WriteAsync(head.Concat(body).ToArray()).AsTask();
    }

    /// <summary>Sends the request upstream with <c>Connection: close</c> and returns the whole answer; null when the upstream cannot be reached.</summary>
    private async Task<byte[]?> ForwardAsync(RawRequest request, CancellationToken cancellationToken)
    {
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(Upstream.Host, Upstream.Port, cancellationToken);
        }
        catch (SocketException)
        {
            return null; // Azurite is down: the client sees its connection reset
        }
        var stream = upstream.GetStream();
        var head = new StringBuilder();
        head.Append(request.Method).Append(' ').Append(request.Target).Append(" HTTP/1.1\r\n");
        foreach (var (name, value) in request.Headers)
        {
            if (!name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                head.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }
        head.Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken);
        await stream.WriteAsync(request.Body, cancellationToken);
        using var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer, cancellationToken);
        }
        catch (IOException)
        {
            return null; // upstream died mid-answer
        }
        return answer.Length == 0 ? null : answer.ToArray();
    }

    private sealed record RawRequest(string Method, string Target, List<(string Name, string Value)> Headers, byte[] Body);

    private static async Task<RawRequest?> ReadRequestAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var filled = 0;
        int headEnd;
        while ((headEnd = IndexOfHeadEnd(buffer, filled)) < 0)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                return null;
            }
            filled += read;
        }
        var lines = Encoding.ASCII.GetString(buffer, 0, headEnd).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var headers = lines.Skip(1).Where(l => l.Length > 0)
            .Select(l => (Name: l[..l.IndexOf(':', StringComparison.Ordinal)], Value: l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))
            .ToList();
        if (headers.Any(h => h.Name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)))
        {
            throw new IOException("The fault proxy reads bodies by Content-Length only; the storage clients always send one.");
        }
        var length = headers.Where(h => h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(h => int.Parse(h.Value, CultureInfo.InvariantCulture)).FirstOrDefault();
        var body = new byte[length];
        var already = Math.Min(length, filled - (headEnd + 4));
        Array.Copy(buffer, headEnd + 4, body, 0, already);
        await stream.ReadExactlyAsync(body.AsMemory(already), cancellationToken);
        return new RawRequest(requestLine[0], requestLine[1], headers, body);
    }

    private static int IndexOfHeadEnd(byte[] buffer, int filled) => buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        await Task.WhenAll(_connections.Keys);
        _stop.Dispose();
    }
}

/// <summary>
/// Three <see cref="FaultProxy"/>s, one per storage service, in front of one Azurite; the app gets
/// <see cref="ConnectionString"/> and so reaches storage only through them.
/// </summary>
public sealed class FaultyStorage : IAsyncDisposable
{
    private readonly FaultProxy _blob;
    private readonly FaultProxy _queue;
    private readonly FaultProxy _table;

    public FaultyStorage(string azuriteConnectionString)
    {
        var (blob, queue, table) = Endpoints(azuriteConnectionString);
        _blob = new FaultProxy("blob", blob);
        _queue = new FaultProxy("queue", queue);
        _table = new FaultProxy("table", table);
        ConnectionString = azuriteConnectionString
            .Replace(Authority(blob), $"127.0.0.1:{_blob.Port}", StringComparison.Ordinal)
            .Replace(Authority(queue), $"127.0.0.1:{_queue.Port}", StringComparison.Ordinal)
            .Replace(Authority(table), $"127.0.0.1:{_table.Port}", StringComparison.Ordinal);
    }

    /// <summary>The services' endpoints, as the storage clients read them from the connection string.</summary>
    private static (Uri Blob, Uri Queue, Uri Table) Endpoints(string connectionString) =>
        (new BlobServiceClient(connectionString).Uri, new QueueServiceClient(connectionString).Uri, new TableServiceClient(connectionString).Uri);

    /// <summary>Storage as the app sees it: through the proxies.</summary>
    public string ConnectionString { get; }

    /// <summary>One rule for all three services.</summary>
    public Func<ProxiedRequest, Fault?> Faults
    {
        set => _blob.Faults = _queue.Faults = _table.Faults = value;
    }

    public Func<ProxiedRequest, Task>? OnRequest
    {
        set => _blob.OnRequest = _queue.OnRequest = _table.OnRequest = value;
    }

    public IEnumerable<Exception> Errors => _table.Errors.Concat(_blob.Errors).Concat(_queue.Errors);

    public IEnumerable<(ProxiedRequest Request, FaultKind Fault)> Seen => _table.Seen.Concat(_blob.Seen).Concat(_queue.Seen);

    /// <summary>Points the proxies at an Azurite restarted on other ports; the app's connection string stays the same.</summary>
    public void Retarget(string azuriteConnectionString)
    {
        (_blob.Upstream, _queue.Upstream, _table.Upstream) = Endpoints(azuriteConnectionString);
    }

    private static string Authority(Uri endpoint) => $"{endpoint.Host}:{endpoint.Port}";

    public async ValueTask DisposeAsync()
    {
        await _blob.DisposeAsync();
        await _queue.DisposeAsync();
        await _table.DisposeAsync();
    }
}
