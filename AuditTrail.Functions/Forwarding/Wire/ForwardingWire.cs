using Domain = AuditTrail.Core.Forwarding;

namespace AuditTrail.Functions.Forwarding.Wire;

// The forwarding answers as the API writes them, mapped from Core's records.

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
    ForwardingFailure? LastFailure)
{
    public static ForwardingSettingsView From(Domain.ForwardingSettingsView v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return new(v.Enabled, v.WriteKeySet, v.WriteKeyHint, v.Endpoint, v.SuppressTransientFailures, v.UpdatedAt, v.UpdatedBy,
            v.LastFailure is { } f ? new ForwardingFailure(f.At, f.Status, f.Reason, f.EventCount) : null);
    }
}

/// <summary>What a resend queued: messages and events, and whether more dead letters are left for another call.</summary>
public sealed record ForwardingResendResult(int Messages, int Events, bool More)
{
    public static ForwardingResendResult From(Domain.ForwardingResendResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.Messages, r.Events, r.More);
    }
}
