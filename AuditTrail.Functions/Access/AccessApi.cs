using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.Access;

/// <summary>What the caller's own token is: lets the page sign in with a token alone.</summary>
public static class AccessApi
{
    public static IEndpointRouteBuilder MapAccessApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/access-token", GetCallerToken)
            .RequireCaller()
            .WithTags("Access")
            .WithName("GetCallerToken")
            .WithSummary("The calling token's workspace, role, name and expiry; never its secret.");
        return app;
    }

    private static Ok<AccessTokenView> GetCallerToken(Caller caller) => TypedResults.Ok(AccessTokenView.From(caller));
}

public sealed record AccessTokenView(string Id, string WorkspaceId, string Role, string? Name, DateTimeOffset? ExpiresAt)
{
    public static AccessTokenView From(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return new(caller.TokenId, caller.WorkspaceId, caller.Role, caller.Name, caller.ExpiresAt);
    }
}
