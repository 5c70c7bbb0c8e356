using System.Text.RegularExpressions;

namespace AuditTrail.Core.Events;

/// <summary>
/// The one workspace-id rule, for every door that takes one: a route, an event's field, a token, a
/// queue message, a command's option. It lives with the event, not with ingestion, so access,
/// export and the commands check it without depending on the ingestion pipeline.
/// </summary>
public static partial class WorkspaceIds
{
    /// <summary>The rule, as every refusal states it.</summary>
    public const string Rule = "A workspace id is 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.";

    public static bool IsValid(string? workspaceId) => workspaceId is not null && Pattern().IsMatch(workspaceId);

    // \z, not $: $ also matches before a final newline, which would let "ws_a\n" through.
    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
