using AuditTrail.Core.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.Access;

/// <summary>What the caller's own token is: lets the page sign in with a token alone.</summary>
public static class AccessApi
{
    public static IEndpointRouteBuilder MapAccessApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/access-token", (Delegate)GetCallerTokenAsync)
            .Produces<AccessTokenView>()
            .WithMetadata(new Hosting.BearerTokenMetadata([]))
            .WithTags("Access")
            .WithName("GetCallerToken")
            .WithSummary("The calling token's workspace, role, name and expiry; never its secret.");
        return app;
    }

    private static async Task<Ok<AccessTokenView>> GetCallerTokenAsync(HttpContext http) =>
        TypedResults.Ok(AccessTokenView.From(await WorkspaceAccess.AuthenticateAsync(http)));
}

public sealed record AccessTokenView(string Id, string WorkspaceId, string Role, string? Name, DateTimeOffset? ExpiresAt)
{
    public static AccessTokenView From(AccessTokenInfo token) => new(token.Id, token.WorkspaceId, token.Role, token.Name, token.ExpiresAt);
}
