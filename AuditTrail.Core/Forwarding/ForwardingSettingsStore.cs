using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Forwarding;

/// <summary>
/// Per-workspace forwarding settings in table <c>AuditForwarding</c> (PartitionKey = workspace,
/// RowKey = <c>settings</c>). The write key is stored in that row and leaves it only in the
/// Authorization header of a forward: responses carry a hint, and the types' ToString and every
/// log line leave it out.
/// </summary>
public sealed class ForwardingSettingsStore(TableServiceClient tables, IOptions<ForwardingOptions> options, TimeProvider time)
{
    public const string TableName = "AuditForwarding";
    private const string RowKey = "settings";

    private readonly TableClient _table = tables.GetTableClient(TableName);
    private readonly ForwardingOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, (ForwardingSettings Settings, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);
    private readonly CreateOnce _creation = new();

    public ForwardingOptions Options => _options;

    /// <summary>The endpoint events are posted to: the workspace's own, or the default.</summary>
    public Uri EndpointOf(ForwardingSettings settings) => settings.Endpoint ?? _options.DefaultEndpoint;

    /// <summary>An endpoint as compared and bound: scheme, host, port and path, without a trailing slash.</summary>
    public static string Canonical(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    /// <summary>
    /// Ties a key to the endpoint it was given for: HMAC-SHA256 keyed by the write key over the
    /// canonical endpoint. Made only from the key itself, so whoever can change the row but not read
    /// the key (a write-only SAS, say) cannot make a binding for an endpoint of their own; whoever can
    /// read the row has the key already.
    /// </summary>
    public static string Bind(string writeKey, Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(writeKey);
        var mac = System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(writeKey), System.Text.Encoding.UTF8.GetBytes("audit-forwarding-endpoint-v1\n" + Canonical(endpoint)));
        return Convert.ToBase64String(mac);
    }

    /// <summary>Whether the settings' key was given for the endpoint they now name (false when there is no key).</summary>
    public bool KeyIsBound(ForwardingSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.WriteKey is null || settings.WriteKeyBinding is null)
        {
            return false;
        }
        var expected = System.Text.Encoding.ASCII.GetBytes(Bind(settings.WriteKey, EndpointOf(settings)));
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(expected, System.Text.Encoding.ASCII.GetBytes(settings.WriteKeyBinding));
    }

    /// <summary>The stored settings, read afresh.</summary>
    public async Task<ForwardingSettings> GetAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        await EnsureCreatedAsync(cancellationToken);
        var row = await _table.FindAsync(workspaceId, RowKey, cancellationToken);
        var settings = row is null ? ForwardingSettings.Off(workspaceId) : FromRow(workspaceId, row);
        _cache[workspaceId] = (settings, time.GetUtcNow() + _options.SettingsCacheDuration);
        return settings;
    }

    /// <summary>
    /// The settings as ingest sees them: cached for <see cref="ForwardingOptions.SettingsCacheDuration"/>, so a
    /// busy workspace costs one read per period, not one per batch. A change made on this instance
    /// is seen at once; on another, within that period.
    /// </summary>
    public async Task<ForwardingSettings> GetCachedAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        if (_cache.TryGetValue(workspaceId, out var cached) && cached.Until > time.GetUtcNow())
        {
            return cached.Settings;
        }
        if (_cache.Count > 100_000)
        {
            _cache.Clear();
        }
        return await GetAsync(workspaceId, cancellationToken);
    }

    public async Task SaveAsync(ForwardingSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        await EnsureCreatedAsync(cancellationToken);
        await _table.UpsertEntityAsync(ToRow(settings), TableUpdateMode.Replace, cancellationToken);
        _cache[settings.WorkspaceId] = (settings, time.GetUtcNow() + _options.SettingsCacheDuration);
    }

    /// <summary>
    /// Notes on the settings row that the source refused events for good, so the owner sees it. A
    /// merge of the failure fields only: an owner's change made meanwhile (a new key) is never undone.
    /// </summary>
    public async Task RecordFailureAsync(string workspaceId, ForwardingFailure failure, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(failure);
        await EnsureCreatedAsync(cancellationToken);
        var note = TableRows.Create(workspaceId, RowKey,
            ("LastFailureAt", failure.At), ("LastFailureStatus", failure.Status), ("LastFailureReason", failure.Reason), ("LastFailureEvents", failure.EventCount));
        await _table.UpsertEntityAsync(note, TableUpdateMode.Merge, cancellationToken);
        _cache.TryRemove(workspaceId, out _);
    }

    private static ForwardingSettings FromRow(string workspaceId, TableEntity row)
    {
        var failure = row.GetDateTimeOffset("LastFailureAt") is { } at
            ? new ForwardingFailure(at, row.GetInt32("LastFailureStatus") ?? 0, row.GetString("LastFailureReason") ?? string.Empty, row.GetInt32("LastFailureEvents") ?? 0)
            : null;
        return new ForwardingSettings(workspaceId, row.GetBoolean("Enabled") ?? false, row.GetString("WriteKey"),
            row.GetString("Endpoint") is { } endpoint ? new Uri(endpoint) : null, row.GetBoolean("SuppressTransientFailures") ?? false,
            row.GetDateTimeOffset("UpdatedAt"), row.GetString("UpdatedBy"), failure)
        {
            WriteKeyBinding = row.GetString("WriteKeyBinding"),
        };
    }

    private static TableEntity ToRow(ForwardingSettings s) => TableRows.Create(s.WorkspaceId, RowKey,
        ("Enabled", s.Enabled),
        ("WriteKey", s.WriteKey),
        ("WriteKeyBinding", s.WriteKeyBinding),
        ("Endpoint", s.Endpoint?.ToString()),
        ("SuppressTransientFailures", s.SuppressTransientFailures),
        ("UpdatedAt", s.UpdatedAt),
        ("UpdatedBy", s.UpdatedBy),
        ("LastFailureAt", s.LastFailure?.At),
        ("LastFailureStatus", s.LastFailure?.Status),
        ("LastFailureReason", s.LastFailure?.Reason),
        ("LastFailureEvents", s.LastFailure?.EventCount));

    private Task EnsureCreatedAsync(CancellationToken cancellationToken) =>
        _creation.EnsureAsync(ct => _table.CreateIfNotExistsAsync(ct), cancellationToken);
}
