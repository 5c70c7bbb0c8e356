using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Functions.Hosting;

namespace AuditTrail.Functions.Access;

/// <summary>
/// Guards every <c>/api/workspaces/{workspaceId}/…</c> route: a bearer token of that workspace
/// with one of the route's roles. 401 when the token is missing, malformed, unknown, expired or
/// revoked; 403 when it is valid but for another workspace or too weak a role. The answers say
/// nothing about the workspace asked for, so a probe learns nothing about other tenants.
/// </summary>
public static class WorkspaceAccess
{
    private const string TokenKey = "AuditTrail.AccessToken";

    /// <summary>Requires a token of the route's workspace with one of <paramref name="roles"/>.</summary>
    public static TBuilder RequireWorkspaceRole<TBuilder>(this TBuilder builder, params string[] roles) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new BearerTokenMetadata(roles)).AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var workspaceId = http.Request.RouteValues["workspaceId"] as string;
            if (!WorkspaceIds.IsValid(workspaceId))
            {
                throw new ProblemException(StatusCodes.Status400BadRequest, "invalid_workspace_id", "Invalid workspace id",
                    "The workspace id in the path is not valid. " + WorkspaceIds.Rule, "workspaceId");
            }
            var token = await AuthenticateAsync(http);
            if (!string.Equals(token.WorkspaceId, workspaceId, StringComparison.Ordinal))
            {
                throw new ProblemException(StatusCodes.Status403Forbidden, "forbidden", "Forbidden", "This access token does not grant access to this workspace.");
            }
            if (!roles.Contains(token.Role, StringComparer.Ordinal))
            {
                throw new ProblemException(StatusCodes.Status403Forbidden, "insufficient_role", "Forbidden",
                    $"This requires the {string.Join(" or ", roles)} role; the access token has the {token.Role} role.");
            }
            // After the checks, so only the workspace's own tokens spend its buckets (the per-address
            // limit has already counted this request, whatever its token).
            http.RequestServices.GetRequiredService<WorkspaceRateLimits>().Admit(http, token, workspaceId!);
            http.Items[TokenKey] = token;
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("AuditTrail.Access").LogInformation(
                "{Method} {Path} by token {TokenId} ({Role}) of workspace {WorkspaceId}", http.Request.Method, http.Request.Path, token.Id, token.Role, token.WorkspaceId);
            return await next(context);
        });

    /// <summary>
    /// The caller's valid token, or the 401 that says why there is none: missing, malformed or
    /// unknown, expired, revoked. Says nothing about which workspace, if any, was asked for.
    /// </summary>
    public static async Task<AccessTokenInfo> AuthenticateAsync(HttpContext http)
    {
        var tokens = http.RequestServices.GetRequiredService<AccessTokenService>();
        var validation = await tokens.ValidateAsync(BearerToken(http.Request), http.RequestAborted);
        return validation.Result switch
        {
            TokenCheck.Valid => validation.Token!,
            TokenCheck.Missing => throw Unauthorized("missing_token", "Send an access token as 'Authorization: Bearer <token>'. Create one with 'tokens create --workspace <id> --role owner'."),
            TokenCheck.Expired => throw Unauthorized("token_expired", "The access token has expired. Ask a workspace owner for a new one."),
            TokenCheck.Revoked => throw Unauthorized("token_revoked", "The access token has been revoked. Ask a workspace owner for a new one."),
            _ => throw Unauthorized("invalid_token", "The access token is not valid. Check that it was copied whole."),
        };
    }

    /// <summary>The token that authorised this request (its id is the actor when the request itself is audited).</summary>
    public static AccessTokenInfo? CallerToken(this HttpContext context) => context.Items[TokenKey] as AccessTokenInfo;

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return null;
        }
        // Anything present but not a bearer credential is a malformed token, not a missing one.
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "malformed";
    }

    private static ProblemException Unauthorized(string code, string detail) =>
        new(StatusCodes.Status401Unauthorized, code, "Unauthorized", detail);
}
