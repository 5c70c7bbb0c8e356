using Microsoft.Extensions.Primitives;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// The query parameters a route takes, and how it refuses the others: <see cref="Unknown"/> for a
/// name it does not know, <see cref="Repeated"/> for one given twice that may be given once.
/// <see cref="KeyByKey"/> checks each parameter in turn for both; otherwise every name is checked
/// for being known before any for being repeated.
/// </summary>
public sealed record QueryParameterRule(
    IReadOnlyList<string> Known, Func<string, ApiProblem> Unknown, Func<string, ApiProblem>? Repeated = null,
    IReadOnlyList<string>? Repeatable = null, bool KeyByKey = false)
{
    /// <summary>A route that takes no query parameter at all.</summary>
    public static QueryParameterRule None(Func<string, ApiProblem> refusal) => new([], refusal);

    /// <summary>The refusal of <paramref name="query"/>, or null when the route takes it.</summary>
    public ApiProblem? Check(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        foreach (var (key, values) in query)
        {
            if (!Known.Contains(key, StringComparer.Ordinal))
            {
                return Unknown(key);
            }
            if (KeyByKey && IsRepeated(key, values))
            {
                return Repeated!(key);
            }
        }
        foreach (var (key, values) in query)
        {
            if (IsRepeated(key, values))
            {
                return Repeated!(key);
            }
        }
        return null;
    }

    private bool IsRepeated(string key, StringValues values) =>
        Repeated is not null && values.Count > 1 && !(Repeatable?.Contains(key, StringComparer.Ordinal) ?? false);
}

public static class QueryParameterRuleExtensions
{
    /// <summary>The one filter that refuses the query parameters a route does not take, before its handler runs.</summary>
    public static TBuilder AcceptsQueryParameters<TBuilder>(this TBuilder builder, QueryParameterRule rule) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) => rule.Check(context.HttpContext.Request.Query) ?? await next(context));
}
