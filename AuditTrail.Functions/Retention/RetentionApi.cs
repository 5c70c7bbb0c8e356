namespace AuditTrail.Functions.Retention;

/// <summary>Retention has no route of its own: its timer function is invoked by the host (<see cref="FunctionsHost.HostInvocations"/>) or fired in-process (<see cref="FunctionsHost.StandaloneTimer"/>).</summary>
public static class RetentionApi
{
    /// <summary>The timer function's name: its folder, and the path the host POSTs to.</summary>
    public const string TimerFunction = "PurgeExpiredAuditEvents";
}
