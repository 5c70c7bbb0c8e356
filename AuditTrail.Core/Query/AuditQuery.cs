namespace AuditTrail.Core.Query;

/// <summary>
/// A filtered view of one workspace's trail. <see cref="Start"/> is inclusive and
/// <see cref="End"/> exclusive; both are resolved (never defaulted) so a continuation can be bound
/// to exactly these filters.
/// </summary>
public sealed record AuditQuery(
    string WorkspaceId,
    DateTimeOffset Start,
    DateTimeOffset End,
    IReadOnlyList<string> Types,
    string? ProductArea,
    string? ActorId,
    string? ActorType,
    string? ResourceType,
    string? ResourceId,
    int Limit)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;
    public const int MaxTypes = 50;

    /// <summary>A stable fingerprint of the filters (not the page size) that a continuation is bound to.</summary>
    public string Fingerprint() => string.Join('\u001f',
        WorkspaceId, Start.UtcTicks, End.UtcTicks, string.Join('\u001e', Types.Order(StringComparer.Ordinal)),
        ProductArea ?? "", ActorId ?? "", ActorType ?? "", ResourceType ?? "", ResourceId ?? "");
}

/// <summary>Where the next page starts: the day partition and the last row key returned from it.</summary>
public sealed record QueryPosition(string Day, string AfterRowKey);

public sealed record AuditEventPage(IReadOnlyList<Events.AuditEvent> Events, QueryPosition? Next);

/// <summary>A query parameter refused as a value (a query that does not validate is an expected answer), with the parameter named.</summary>
public sealed record QueryRefusal(string Parameter, string Message, string Code = QueryValidationException.InvalidParameter);

/// <summary>A query parameter the service refuses, with the parameter named.</summary>
public sealed class QueryValidationException : Exception
{
    public QueryValidationException(string parameter, string message) : this(parameter, message, InvalidParameter)
    {
    }

    /// <param name="code">The problem's code: <see cref="InvalidParameter"/> unless the value itself is at fault in another documented way.</param>
    public QueryValidationException(string parameter, string message, string code) : base(message)
    {
        Parameter = parameter;
        Code = code;
    }

    public QueryValidationException()
    {
        Parameter = string.Empty;
        Code = InvalidParameter;
    }

    public QueryValidationException(string message) : base(message)
    {
        Parameter = string.Empty;
        Code = InvalidParameter;
    }

    public QueryValidationException(string message, Exception innerException) : base(message, innerException)
    {
        Parameter = string.Empty;
        Code = InvalidParameter;
    }

    public string Parameter { get; }

    public const string InvalidParameter = "invalid_parameter";
    public const string InvalidContinuation = "invalid_continuation";

    /// <summary>
    /// Machine-readable code: <c>invalid_parameter</c>, or <c>invalid_continuation</c> for a token that
    /// was altered or belongs to other filters. Set by whoever judged the value, never read off the
    /// parameter's name: a <c>continuation</c> where none is taken (an export) is an unknown parameter.
    /// </summary>
    public string Code { get; }
}
