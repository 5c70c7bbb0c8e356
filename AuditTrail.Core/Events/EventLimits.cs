namespace AuditTrail.Core.Events;

/// <summary>Documented input limits (docs/architecture.md, "Limits").</summary>
public static class EventLimits
{
    /// <summary>Largest event, as UTF-8 JSON. Matches the tracking API's per-event cap so every stored event can be forwarded.</summary>
    public const int MaxEventBytes = 32 * 1024;
    public const int MaxWorkspaceIdLength = 64;
    public const int MaxIdLength = 256;
    public const int MaxTypeLength = 128;
    public const int MaxTextLength = 512;
    public const int MaxUserAgentLength = 1024;
    public const int MaxChanges = 100;

    /// <summary>Largest stored text of 'changes' or 'properties': one Table string property (64 KiB of UTF-16), with room to spare.</summary>
    public const int MaxStoredJsonChars = 30_000;

    /// <summary>How far ahead of the receiver's clock a timestamp may be (producer clock skew).</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromMinutes(5);

    /// <summary>Events older than this would be purged at once, so they are rejected at the door.</summary>
    public const int RetentionDays = 90;
}
