namespace AuditTrail.Core.Forwarding;

/// <summary>A settings change refused: a stable code, the field at fault, and why, for people.</summary>
public sealed record SettingsRefusal(string Code, string Field, string Message);

/// <summary>The outcome of <see cref="ForwardingSettingsService.UpdateAsync"/>: the settings as saved, or why nothing was saved.</summary>
public sealed record SettingsChange(ForwardingSettings? Settings, SettingsRefusal? Refusal)
{
    public static SettingsChange Saved(ForwardingSettings settings) => new(settings, null);

    public static SettingsChange Refused(SettingsRefusal refusal) => new(null, refusal);
}
