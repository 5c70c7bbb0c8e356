using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace AuditTrail.Core.Storage;

/// <summary>
/// One table, over the Table Storage REST API. Thread-safe; share one instance per table.
/// </summary>
public sealed class TableClient
{
    /// <summary>Service limits of an entity-group transaction.</summary>
    public const int MaxTransactionActions = 100;
    public const int MaxTransactionBytes = 4 * 1024 * 1024;

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    /// <summary>Bytes one action adds to a transaction body besides its entity JSON (request line, headers, boundary).</summary>
    private const int ActionOverheadBytes = 512;
    private const string AcceptJson = "application/json;odata=minimalmetadata";

    private readonly HttpClient _http;
    private readonly string _endpoint;

    public TableClient(HttpClient http, StorageAccount account, string tableName)
    {
        _http = http;
        _endpoint = account.TableEndpoint.ToString().TrimEnd('/');
        Name = tableName;
    }

    public string Name { get; }

    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Post, "Tables");
        request.Content = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("TableName", Name);
            w.WriteEndObject();
        });
        request.Headers.TryAddWithoutValidation("Prefer", "return-no-content");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Conflict)
        {
            return; // 409 TableAlreadyExists is the "if not exists"
        }
        throw await StorageErrors.FromResponseAsync(response, $"Create table {Name}", cancellationToken);
    }

    /// <summary>Inserts an entity; throws <see cref="StorageRequestException"/> with status 409 if it exists.</summary>
    public async Task AddEntityAsync(TableEntity entity, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Post, Name);
        request.Content = Json(entity.WriteJson);
        request.Headers.TryAddWithoutValidation("Prefer", "return-no-content");
        await SendAsync(request, $"Insert into {Name}", cancellationToken);
    }

    /// <summary>Inserts or replaces an entity.</summary>
    public async Task UpsertEntityAsync(TableEntity entity, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Put, TableFilter.EntityPath(Name, entity.PartitionKey, entity.RowKey));
        request.Content = Json(entity.WriteJson);
        await SendAsync(request, $"Upsert into {Name}", cancellationToken);
    }

    /// <summary>
    /// Inserts the entity or merges its properties into the existing one (Insert Or Merge): properties
    /// it does not carry keep their stored values, so two writers of different properties do not
    /// undo each other.
    /// </summary>
    public async Task MergeEntityAsync(TableEntity entity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        using var request = NewRequest(new HttpMethod("MERGE"), TableFilter.EntityPath(Name, entity.PartitionKey, entity.RowKey));
        request.Content = Json(entity.WriteJson);
        await SendAsync(request, $"Merge into {Name}", cancellationToken);
    }

    /// <summary>Reads one entity, or null if it does not exist.</summary>
    public async Task<TableEntity?> GetEntityAsync(string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Get, TableFilter.EntityPath(Name, partitionKey, rowKey));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Get entity from {Name}", cancellationToken);
        }
        using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), default, cancellationToken);
        var entity = TableEntity.FromJson(doc.RootElement);
        entity.ETag ??= response.Headers.ETag?.ToString();
        return entity;
    }

    /// <summary>Deletes an entity unconditionally. Returns false if it did not exist.</summary>
    public async Task<bool> DeleteEntityAsync(string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Delete, TableFilter.EntityPath(Name, partitionKey, rowKey));
        request.Headers.TryAddWithoutValidation("If-Match", "*");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Delete entity from {Name}", cancellationToken);
        }
        return true;
    }

    /// <summary>
    /// Pages of a query, following continuations. A page may be empty and still continue (the
    /// service cuts pages at partition boundaries and at 5 s of work), so callers must not treat
    /// an empty page as the end.
    /// </summary>
    public async IAsyncEnumerable<TablePage> QueryPagesAsync(
        TableQuery query, TableContinuation? continuation = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        do
        {
            var page = await QueryPageAsync(query, continuation, cancellationToken);
            yield return page;
            continuation = page.Continuation;
        }
        while (continuation is not null);
    }

    /// <summary>All entities matching a query, fetched page by page as the caller consumes them.</summary>
    public async IAsyncEnumerable<TableEntity> QueryAsync(TableQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var page in QueryPagesAsync(query, null, cancellationToken))
        {
            foreach (var entity in page.Values)
            {
                yield return entity;
            }
        }
    }

    /// <summary>Fetches exactly one page of a query.</summary>
    public async Task<TablePage> QueryPageAsync(TableQuery query, TableContinuation? continuation, CancellationToken cancellationToken = default)
    {
        var path = new StringBuilder(Name).Append("()");
        var separator = '?';
        void Add(string name, string value)
        {
            path.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }
        if (!string.IsNullOrEmpty(query.Filter))
        {
            Add("$filter", query.Filter);
        }
        if (query.Select is { Count: > 0 } select)
        {
            Add("$select", string.Join(',', select));
        }
        if (query.PageSize is { } top)
        {
            Add("$top", Math.Clamp(top, 1, 1000).ToString(CultureInfo.InvariantCulture));
        }
        if (continuation is not null)
        {
            Add("NextPartitionKey", continuation.NextPartitionKey);
            if (continuation.NextRowKey is not null)
            {
                Add("NextRowKey", continuation.NextRowKey);
            }
        }

        using var request = NewRequest(HttpMethod.Get, path.ToString());
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Query {Name}", cancellationToken);
        }
        using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), default, cancellationToken);
        var values = new List<TableEntity>();
        if (doc.RootElement.TryGetProperty("value", out var array))
        {
            foreach (var item in array.EnumerateArray())
            {
                values.Add(TableEntity.FromJson(item));
            }
        }
        var nextPk = HeaderValue(response, "x-ms-continuation-NextPartitionKey");
        var nextRk = HeaderValue(response, "x-ms-continuation-NextRowKey");
        return new TablePage(values, string.IsNullOrEmpty(nextPk) ? null : new TableContinuation(nextPk, string.IsNullOrEmpty(nextRk) ? null : nextRk));
    }

    /// <summary>
    /// Submits an entity-group transaction: all actions on one partition, at most 100 of them and
    /// 4 MiB in all, each entity once. All or nothing; a failing action is reported through
    /// <see cref="TableTransactionFailedException"/> with its index.
    /// </summary>
    public async Task SubmitTransactionAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (actions.Count == 0)
        {
            return;
        }
        ValidateTransaction(actions);

        var batchBoundary = "batch_" + Guid.NewGuid().ToString("N");
        var changesetBoundary = "changeset_" + Guid.NewGuid().ToString("N");
        var body = BuildTransactionBody(actions, batchBoundary, changesetBoundary);
        if (body.Length > MaxTransactionBytes)
        {
            throw new ArgumentException($"Transaction payload is {body.Length} bytes; the limit is {MaxTransactionBytes}.", nameof(actions));
        }

        using var request = NewRequest(HttpMethod.Post, "$batch");
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/mixed; boundary={batchBoundary}");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Transaction on {Name}", cancellationToken);
        }
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (ParseTransactionFailure(text, actions.Count) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>
    /// The bytes an action takes in a transaction body, measured by serializing it, so callers can
    /// fill transactions up to <see cref="MaxTransactionBytes"/> without guessing at escaping.
    /// </summary>
    public static int MeasureAction(TableTransactionAction action)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, AuditTrail.Core.JsonDefaults.Relaxed))
        {
            action.Entity.WriteJson(writer);
        }
        return buffer.WrittenCount + ActionOverheadBytes + (3 * (action.Entity.PartitionKey.Length + action.Entity.RowKey.Length));
    }

    internal static void ValidateTransaction(IReadOnlyList<TableTransactionAction> actions)
    {
        if (actions.Count > MaxTransactionActions)
        {
            throw new ArgumentException($"A transaction holds at most {MaxTransactionActions} actions; got {actions.Count}.", nameof(actions));
        }
        // Azurite accepts mixed partitions where Azure rejects them, so the rule is enforced here.
        var partition = actions[0].Entity.PartitionKey;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var action in actions)
        {
            if (!string.Equals(action.Entity.PartitionKey, partition, StringComparison.Ordinal))
            {
                throw new ArgumentException("All actions of a transaction must share one PartitionKey.", nameof(actions));
            }
            if (!seen.Add(action.Entity.RowKey))
            {
                throw new ArgumentException($"RowKey '{action.Entity.RowKey}' appears twice in one transaction.", nameof(actions));
            }
        }
    }

    private byte[] BuildTransactionBody(IReadOnlyList<TableTransactionAction> actions, string batchBoundary, string changesetBoundary)
    {
        using var stream = new MemoryStream();
        void Write(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            stream.Write(bytes, 0, bytes.Length);
        }

        Write($"--{batchBoundary}\r\nContent-Type: multipart/mixed; boundary={changesetBoundary}\r\n\r\n");
        var contentId = 1;
        foreach (var action in actions)
        {
            Write($"--{changesetBoundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n");
            var entity = action.Entity;
            switch (action.ActionType)
            {
                case TableTransactionActionType.Add:
                    Write($"POST {_endpoint}/{Name} HTTP/1.1\r\n");
                    break;
                case TableTransactionActionType.UpsertReplace:
                    Write($"PUT {_endpoint}/{TableFilter.EntityPath(Name, entity.PartitionKey, entity.RowKey)} HTTP/1.1\r\n");
                    break;
                case TableTransactionActionType.Delete:
                    Write($"DELETE {_endpoint}/{TableFilter.EntityPath(Name, entity.PartitionKey, entity.RowKey)} HTTP/1.1\r\n");
                    break;
            }
            Write($"Content-ID: {contentId++}\r\nAccept: {AcceptJson}\r\nDataServiceVersion: 3.0;\r\n");
            if (action.ActionType == TableTransactionActionType.Delete)
            {
                Write("If-Match: *\r\n\r\n");
                continue;
            }
            if (action.ActionType == TableTransactionActionType.Add)
            {
                Write("Prefer: return-no-content\r\n");
            }
            Write("Content-Type: application/json\r\n\r\n");
            using (var writer = new Utf8JsonWriter(stream, AuditTrail.Core.JsonDefaults.Relaxed))
            {
                entity.WriteJson(writer);
            }
            Write("\r\n");
        }
        Write($"--{changesetBoundary}--\r\n--{batchBoundary}--\r\n");
        return stream.ToArray();
    }

    /// <summary>
    /// A change set answers 202 even when it failed: the failure is one inner response whose
    /// OData message starts with the 0-based index of the failing action ("1:The specified ...").
    /// </summary>
    internal static TableTransactionFailedException? ParseTransactionFailure(string responseBody, int actionCount)
    {
        foreach (var line in responseBody.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (!trimmed.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) || trimmed.Length < 12)
            {
                continue;
            }
            if (!int.TryParse(trimmed.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status < 400)
            {
                continue;
            }
            var jsonStart = responseBody.IndexOf('{', responseBody.IndexOf(trimmed, StringComparison.Ordinal));
            var (code, message) = jsonStart < 0 ? (null, null) : StorageErrors.Parse(ExtractJson(responseBody, jsonStart));
            var index = -1;
            if (message is not null)
            {
                var colon = message.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && int.TryParse(message.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < actionCount)
                {
                    index = i;
                }
            }
            return new TableTransactionFailedException(status, code, index,
                $"Transaction failed at action {index} with {status} {code}: {message}");
        }
        return null;
    }

    private static string ExtractJson(string text, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
                continue;
            }
            switch (c)
            {
                case '"':
                    inString = true;
                    break;
                case '{':
                    depth++;
                    break;
                case '}' when --depth == 0:
                    return text[start..(i + 1)];
            }
        }
        return text[start..];
    }

    private async Task SendAsync(HttpRequestMessage request, string operation, CancellationToken cancellationToken)
    {
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, operation, cancellationToken);
        }
    }

    private HttpRequestMessage NewRequest(HttpMethod method, string relativePath)
    {
        var request = new HttpRequestMessage(method, new Uri(_endpoint + "/" + relativePath));
        request.Headers.TryAddWithoutValidation("Accept", AcceptJson);
        request.Headers.TryAddWithoutValidation("DataServiceVersion", "3.0;NetFx");
        request.Headers.TryAddWithoutValidation("MaxDataServiceVersion", "3.0;NetFx");
        return request;
    }

    private static ByteArrayContent Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, AuditTrail.Core.JsonDefaults.Relaxed))
        {
            write(writer);
        }
        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = JsonContentType;
        return content;
    }

    private static string? HeaderValue(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
