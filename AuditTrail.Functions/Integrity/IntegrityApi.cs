using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Core.Integrity;
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

    private static readonly HashSet<string> RangeParameters = new(StringComparer.Ordinal) { "start", "end" };

    public static IEndpointRouteBuilder MapIntegrityApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/integrity/keys", KeysAsync)
            .WithTags("Integrity")
            .WithName("GetIntegrityKeys")
            .WithSummary("The public keys digests are signed with, retired ones included, as a JWKS (RFC 7517).");

        var workspace = app.MapGroup("/api/workspaces/{workspaceId}/integrity")
            .RequireWorkspaceRole(Roles.Owner)
            .WithTags("Integrity");
        workspace.MapGet("/digests", DigestsAsync)
            .WithName("ListIntegrityDigests")
            .WithSummary("The workspace's sealed digests whose interval meets [start, end) of ingestion time (default: the last 91 days).");
        workspace.MapGet("/verification", VerifyAsync)
            .WithName("VerifyIntegrity")
            .WithSummary("Recomputes every event recorded in [start, end) from the trail and checks it against the ledger, the digests and their signatures; intact only when nothing is wrong.")
            .CountsAsCostly()
            .OneVerificationAtATime();

        if (app.ServiceProvider.GetRequiredService<HostingSettings>().InvocationEndpoints)
        {
            // The timer payload carries nothing the seal needs, so it is not read.
            app.MapPost("/" + TimerFunction, async (DigestSealer sealer, CancellationToken ct) =>
            {
                var report = await sealer.SealAsync(null, ct);
                // A run that failed some workspace fails the invocation, so the host's own failure
                // count and alerts see it; the other workspaces are sealed all the same.
                return TypedResults.Json(
                    new InvocationResponse(new Dictionary<string, JsonElement>(), [IntegrityCommand.Describe(report)], null),
                    AuditTrailJsonContext.Default.InvocationResponse, statusCode: report.Succeeded ? StatusCodes.Status200OK : StatusCodes.Status500InternalServerError);
            }).ExcludeFromDescription();
        }
        return app;
    }

    private static async Task<Ok<JsonWebKeySet>> KeysAsync(IntegrityKeys keys, CancellationToken cancellationToken) =>
        TypedResults.Ok(await keys.KeySetAsync(cancellationToken));

    private static async Task<Ok<DigestList>> DigestsAsync(string workspaceId, HttpRequest request, IntegrityService integrity, CancellationToken cancellationToken)
    {
        var (start, end) = ParseRange(request.Query);
        return TypedResults.Ok(await integrity.ListDigestsAsync(workspaceId, start, end, cancellationToken));
    }

    private static async Task<Ok<VerificationReport>> VerifyAsync(string workspaceId, HttpRequest request, IntegrityService integrity, CancellationToken cancellationToken)
    {
        var (start, end) = ParseRange(request.Query);
        return TypedResults.Ok(await integrity.VerifyAsync(workspaceId, start, end, cancellationToken));
    }

    /// <summary>Only <c>start</c> and <c>end</c>, each once, each an ISO 8601 time with an offset.</summary>
    internal static (DateTimeOffset? Start, DateTimeOffset? End) ParseRange(IQueryCollection query)
    {
        foreach (var (name, values) in query)
        {
            if (!RangeParameters.Contains(name))
            {
                throw new ProblemException(StatusCodes.Status400BadRequest, "unknown_parameter", "Invalid query parameter",
                    "Only 'start' and 'end' are accepted here.", name.Length > 64 ? name[..64] : name);
            }
            if (values.Count != 1)
            {
                throw new ProblemException(StatusCodes.Status400BadRequest, "repeated_parameter", "Invalid query parameter", $"'{name}' may be given once.", name);
            }
        }
        return (Time(query, "start"), Time(query, "end"));
    }

    private static DateTimeOffset? Time(IQueryCollection query, string name)
    {
        var text = query[name].ToString();
        if (text.Length == 0)
        {
            return null;
        }
        return Iso8601.TryParseUtc(text, out var value)
            ? value
            : throw new ProblemException(StatusCodes.Status400BadRequest, "invalid_time", "Invalid query parameter",
                $"'{name}' must be an ISO 8601 time with a UTC offset, such as 2026-01-31T00:00:00Z.", name);
    }
}
