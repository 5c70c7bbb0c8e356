using System.Text.Json.Serialization;

namespace AuditTrail.Core.Forwarding;

/// <summary>A workspace's forwarding settings as stored, write key included: never leaves the server.</summary>
public sealed record ForwardingSettings(
    string WorkspaceId,
    bool Enabled,
    string? WriteKey,
    Uri? Endpoint,
    bool SuppressTransientFailures,
    DateTimeOffset? UpdatedAt,
    string? UpdatedBy,
    ForwardingFailure? LastFailure)
{
    public static ForwardingSettings Off(string workspaceId) => new(workspaceId, false, null, null, false, null, null, null);

    /// <summary>
    /// Which endpoint the key was given for: <see cref="ForwardingSettingsStore.Bind"/> of the key and
    /// that endpoint, made when an owner sends the key and kept unchanged until the next key. The
    /// forwarder sends the key only where this matches, so an endpoint that reached the row any
    /// other way (a storage writer who cannot read the key, a changed default) never receives it.
    /// </summary>
    public string? WriteKeyBinding { get; init; }

    /// <summary>Shown instead of the key: its last four characters, so an owner can tell which key is set.</summary>
    public string? WriteKeyHint => WriteKey is { Length: > 0 } key ? "…" + key[^Math.Min(4, key.Length / 4)..] : null;

    public override string ToString() =>
        $"ForwardingSettings {{ WorkspaceId = {WorkspaceId}, Enabled = {Enabled}, WriteKey = {WriteKeyHint ?? "(none)"}, Endpoint = {Endpoint}, SuppressTransientFailures = {SuppressTransientFailures} }}";
}

/// <summary>The last time the source refused forwarded events for good (a 4xx other than 408 and 429).</summary>
public sealed record ForwardingFailure(DateTimeOffset At, int Status, string Reason, int EventCount);

/// <summary>What an owner sees: the key only as a hint.</summary>
public sealed record ForwardingSettingsView(
    bool Enabled,
    bool WriteKeySet,
    string? WriteKeyHint,
    Uri Endpoint,
    bool SuppressTransientFailures,
    DateTimeOffset? UpdatedAt,
    string? UpdatedBy,
    ForwardingFailure? LastFailure);

/// <summary>
/// A change an owner asks for. Absent fields keep their value; <see cref="WriteKey"/> is write-only.
/// An empty <see cref="Endpoint"/> string goes back to the default endpoint.
/// </summary>
public sealed record ForwardingSettingsUpdate(
    [property: JsonPropertyName("enabled")] bool? Enabled,
    [property: JsonPropertyName("writeKey")] string? WriteKey,
    [property: JsonPropertyName("endpoint")] string? Endpoint,
    [property: JsonPropertyName("suppressTransientFailures")] bool? SuppressTransientFailures)
{
    public override string ToString() =>
        $"ForwardingSettingsUpdate {{ Enabled = {Enabled}, WriteKey = {(WriteKey is null ? "(unchanged)" : "(set)")}, Endpoint = {Endpoint}, SuppressTransientFailures = {SuppressTransientFailures} }}";
}

/// <summary>Who changed the settings: recorded as the actor of the audit event.</summary>
public sealed record SettingsActor(string Type, string Id);

/// <summary>A settings change the service refuses, with a stable code and the field at fault.</summary>
public sealed class ForwardingSettingsException(string code, string field, string message) : Exception(message)
{
    public string Code { get; } = code;
    public string Field { get; } = field;
}
