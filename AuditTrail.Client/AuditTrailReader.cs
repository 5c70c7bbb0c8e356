using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace AuditTrail.Client;

/// <summary>A stored event as the trail returns it: the catalog's type spelling and its product area.</summary>
public sealed record AuditEvent(
    string Id, string WorkspaceId, string Type, string ProductArea, DateTimeOffset Timestamp,
    ActorRef Actor, ResourceRef Resource, ContextRef? Context, IReadOnlyList<FieldChange>? Changes, IReadOnlyDictionary<string, JsonElement>? Properties);

/// <summary>The list's and the export's filters (docs/api.md); null means not filtered.</summary>
public sealed record AuditEventFilter
{
    public DateTimeOffset? Start { get; init; }
    public DateTimeOffset? End { get; init; }
    public IReadOnlyList<string>? Types { get; init; }
    public string? ProductArea { get; init; }
    public string? ActorId { get; init; }
    public string? ActorType { get; init; }
    public string? ResourceType { get; init; }
    public string? ResourceId { get; init; }

    internal string ToQuery(int? pageSize)
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parts.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
        Add("start", Start?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        Add("end", End?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        foreach (var type in Types ?? [])
        {
            Add("type", type);
        }
        Add("productArea", ProductArea);
        Add("actorId", ActorId);
        Add("actorType", ActorType);
        Add("resourceType", ResourceType);
        Add("resourceId", ResourceId);
        Add("limit", pageSize?.ToString(CultureInfo.InvariantCulture));
        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }
}

public sealed record AuditTrailReaderOptions
{
    /// <summary>Events per page asked for (1-1000).</summary>
    public int PageSize { get; init; } = 200;

    /// <summary>How long <see cref="AuditTrailReader.ExportAsync"/> waits for an export before giving up.</summary>
    public TimeSpan ExportTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>The wait between looks at an export when the trail does not say (Retry-After).</summary>
    public TimeSpan ExportPollInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>An export that ended in failure, or did not end in time.</summary>
public sealed class AuditTrailExportException(string message, string exportId, string status) : Exception(message)
{
    public string ExportId { get; } = exportId;
    public string Status { get; } = status;
}

/// <summary>
/// Reads a workspace's trail with an owner token: <see cref="ListAsync"/> follows <c>nextLink</c>
/// page by page; <see cref="ExportAsync"/> asks for a CSV export and waits for its link. Every
/// refusal is an <see cref="AuditTrailProblemException"/> with the trail's <c>code</c>.
/// </summary>
public sealed class AuditTrailReader(HttpClient http, string accessToken, AuditTrailReaderOptions? options = null)
{
    private readonly AuditTrailReaderOptions _options = options ?? new AuditTrailReaderOptions();

    public async IAsyncEnumerable<AuditEvent> ListAsync(string workspaceId, AuditEventFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? next = $"api/workspaces/{Uri.EscapeDataString(workspaceId)}/audit-events{(filter ?? new AuditEventFilter()).ToQuery(_options.PageSize)}";
        while (next is not null)
        {
            using var response = await SendAsync(HttpMethod.Get, next, cancellationToken);
            var page = await response.Content.ReadFromJsonAsync(ClientJsonContext.Default.AuditEventPage, cancellationToken)
                       ?? throw new JsonException("The trail answered an empty page.");
            foreach (var e in page.Value)
            {
                yield return e;
            }
            next = page.NextLink;
        }
    }

    /// <summary>Asks for the export, waits until it has succeeded, and returns its download link (valid for a while; ask again for a fresh one).</summary>
    public async Task<Uri> ExportAsync(string workspaceId, AuditEventFilter? filter = null, CancellationToken cancellationToken = default)
    {
        var deadline = _options.Time.GetUtcNow() + _options.ExportTimeout;
        string location;
        ExportStatus status;
        TimeSpan? wait;
        using (var created = await SendAsync(HttpMethod.Post, $"api/workspaces/{Uri.EscapeDataString(workspaceId)}/exports{(filter ?? new AuditEventFilter()).ToQuery(null)}", cancellationToken))
        {
            status = await ReadStatusAsync(created, cancellationToken);
            location = created.Headers.Location?.OriginalString ?? $"api/workspaces/{Uri.EscapeDataString(workspaceId)}/exports/{Uri.EscapeDataString(status.Id)}";
            wait = created.Headers.RetryAfter?.Delta;
        }
        while (true)
        {
            switch (status.Status)
            {
                case "succeeded" when status.DownloadUrl is not null:
                    return new Uri(http.BaseAddress!, status.DownloadUrl);
                case "failed":
                    throw new AuditTrailExportException($"Export {status.Id} failed: {status.FailureReason}", status.Id, status.Status);
            }
            if (_options.Time.GetUtcNow() >= deadline)
            {
                throw new AuditTrailExportException($"Export {status.Id} was still {status.Status} after {_options.ExportTimeout}.", status.Id, status.Status);
            }
            await Task.Delay(wait ?? _options.ExportPollInterval, _options.Time, cancellationToken);
            using var response = await SendAsync(HttpMethod.Get, location, cancellationToken);
            status = await ReadStatusAsync(response, cancellationToken);
            wait = response.Headers.RetryAfter?.Delta;
        }
    }

    private static async Task<ExportStatus> ReadStatusAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        await response.Content.ReadFromJsonAsync(ClientJsonContext.Default.ExportStatus, cancellationToken)
        ?? throw new JsonException("The trail answered an empty export status.");

    /// <summary>A relative address (as nextLink and Location are) against the client's BaseAddress; a refusal as its typed problem.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string address, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, address.StartsWith('/') ? address[1..] : address);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        var response = await http.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            throw await Problems.ReadAsync(response, cancellationToken);
        }
    }
}

internal sealed record AuditEventPage(IReadOnlyList<AuditEvent> Value, string? NextLink);

internal sealed record ExportStatus(string Id, string Status, long RowCount, string? DownloadUrl, string? FailureReason);
