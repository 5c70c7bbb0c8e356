using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Integrity;
using AuditTrail.Functions.Integrity.Wire;
using DigestList = AuditTrail.Functions.Integrity.Wire.DigestList;
using JsonWebKeySet = AuditTrail.Functions.Integrity.Wire.JsonWebKeySet;
using VerificationReport = AuditTrail.Functions.Integrity.Wire.VerificationReport;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.Integrity;

/// <summary>
/// The tamper-evident trail: the public keys (no token), an owner's digests and verification, and
/// the timer function <c>SealAuditDigests</c> the host invokes hourly.
/// </summary>
public static class IntegrityApi
{
    /// <summary>The timer function's name: its folder, and the path the host POSTs to.</summary>
    public const string TimerFunction = "SealAuditDigests";

    /// <summary>Only <c>start</c> and <c>end</c>, each once.</summary>
    private static readonly QueryParameterRule RangeRule = new(["start", "end"],
        name => ApiProblem.BadRequest("unknown_parameter", ApiProblem.InvalidQueryTitle, "Only 'start' and 'end' are accepted here.", name.Length > 64 ? name[..64] : name),
        name => ApiProblem.BadRequest("repeated_parameter", ApiProblem.InvalidQueryTitle, $"'{name}' may be given once.", name),
        KeyByKey: true);

    public static IEndpointRouteBuilder MapIntegrityApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/integrity/keys", KeysAsync)
            .WithTags("Integrity")
            .WithName("GetIntegrityKeys")
            .WithSummary("The public keys digests are signed with, retired ones included, as a JWKS (RFC 7517).");

        var workspace = app.MapWorkspaceGroup("/integrity", "Integrity", Roles.Owner);
        workspace.MapGet("/digests", DigestsAsync)
            .WithName("ListIntegrityDigests")
            .WithSummary("The workspace's sealed digests whose interval meets [start, end) of ingestion time (default: the last 91 days).")
            .AcceptsQueryParameters(RangeRule);
        workspace.MapGet("/verification", VerifyAsync)
            .WithName("VerifyIntegrity")
            .WithSummary("Recomputes every event recorded in [start, end) from the trail and checks it against the ledger, the digests and their signatures; intact only when nothing is wrong.")
            .CountsAsCostly()
            .OneVerificationAtATime()
            .AcceptsQueryParameters(RangeRule);

        return app;
    }

    private static async Task<Ok<JsonWebKeySet>> KeysAsync(IntegrityKeys keys, CancellationToken cancellationToken) =>
        TypedResults.Ok(JsonWebKeySet.From(await keys.KeySetAsync(cancellationToken)));

    private static Task<Results<Ok<DigestList>, ApiProblem>> DigestsAsync(
        string workspaceId, HttpRequest request, IntegrityService integrity, CancellationToken cancellationToken) =>
        InRangeAsync(request, async (start, end) => DigestList.From(await integrity.ListDigestsAsync(workspaceId, start, end, cancellationToken)));

    private static Task<Results<Ok<VerificationReport>, ApiProblem>> VerifyAsync(
        string workspaceId, HttpRequest request, IntegrityService integrity, CancellationToken cancellationToken) =>
        InRangeAsync(request, async (start, end) => VerificationReport.From(await integrity.VerifyAsync(workspaceId, start, end, cancellationToken)));

    /// <summary>What <paramref name="read"/> finds in the query's range, or the 400 for a time that does not read.</summary>
    private static async Task<Results<Ok<T>, ApiProblem>> InRangeAsync<T>(HttpRequest request, Func<DateTimeOffset?, DateTimeOffset?, Task<T>> read)
    {
        var range = TimeRange.From(request.Query);
        if (range.Refusal() is { } refusal)
        {
            return refusal;
        }
        return TypedResults.Ok(await read(range.StartTime, range.EndTime));
    }
}

/// <summary>
/// An integrity range as the query string carries it: <c>start</c> and <c>end</c>, each an ISO 8601
/// time with an offset, or absent. Read from the query rather than bound, as the OpenAPI document
/// has never described these two parameters and a generated client must not change.
/// </summary>
public sealed record TimeRange(Microsoft.Extensions.Primitives.StringValues Start, Microsoft.Extensions.Primitives.StringValues End)
{
    public static TimeRange From(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new(query["start"], query["end"]);
    }

    public DateTimeOffset? StartTime => Time(Start);

    public DateTimeOffset? EndTime => Time(End);

    /// <summary>The 400 for the first time that does not read, or null.</summary>
    public ApiProblem? Refusal() => Unreadable(Start, "start") ?? Unreadable(End, "end");

    private static ApiProblem? Unreadable(Microsoft.Extensions.Primitives.StringValues value, string name) =>
        value.ToString().Length == 0 || Iso8601.TryParseUtc(value.ToString(), out _)
            ? null
            : ApiProblem.BadRequest("invalid_time", ApiProblem.InvalidQueryTitle,
                $"'{name}' must be an ISO 8601 time with a UTC offset, such as 2026-01-31T00:00:00Z.", name);

    private static DateTimeOffset? Time(Microsoft.Extensions.Primitives.StringValues value) =>
        Iso8601.TryParseUtc(value.ToString(), out var time) ? time : null;
}
