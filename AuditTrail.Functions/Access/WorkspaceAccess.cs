using AuditTrail.Core.Access;
using AuditTrail.Core.Events;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace AuditTrail.Functions.Access;

/// <summary>
/// Guards every <c>/api/workspaces/{workspaceId}/…</c> route: a bearer token of that workspace
/// with one of the route's roles. 400 when the workspace id in the path is not one (before any
/// token is looked up); 401 when the token is missing, malformed, unknown, expired or revoked
/// (<see cref="BearerTokenHandler"/>); 403 when it is valid but for another workspace or too weak a
/// role. The answers say nothing about the workspace asked for, so a probe learns nothing about
/// other tenants.
/// </summary>
public static class WorkspaceAccess
{
    /// <summary>Any valid token, whatever its workspace and role.</summary>
    public static AuthorizationPolicy AnyToken { get; } = new AuthorizationPolicyBuilder(BearerTokenHandler.SchemeName).RequireAuthenticatedUser().Build();

    /// <summary>Requires a token of the route's workspace with one of <paramref name="roles"/>.</summary>
    public static TBuilder RequireWorkspaceRole<TBuilder>(this TBuilder builder, params string[] roles) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(new AuthorizationPolicyBuilder(BearerTokenHandler.SchemeName)
            .RequireAuthenticatedUser()
            .AddRequirements(new WorkspaceRoleRequirement(roles))
            .Build());

    /// <summary>
    /// The routes under <c>/api/workspaces/{workspaceId}{path}</c>: each guarded by <see cref="RequireWorkspaceRole"/>
    /// with <paramref name="roles"/>, and listed under <paramref name="tag"/> in the OpenAPI document.
    /// </summary>
    public static RouteGroupBuilder MapWorkspaceGroup(this IEndpointRouteBuilder app, string path, string tag, params string[] roles) =>
        app.MapGroup("/api/workspaces/{workspaceId}" + path).RequireWorkspaceRole(roles).WithTags(tag);

    /// <summary>Requires any valid token: the route answers about the caller itself.</summary>
    public static TBuilder RequireCaller<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(AnyToken);

    /// <summary>The workspace roles a route's authorization policy asks for; null on a route that names no workspace.</summary>
    public static IReadOnlyList<string>? WorkspaceRoles(this EndpointMetadataCollection metadata) =>
        metadata.GetOrderedMetadata<AuthorizationPolicy>().SelectMany(p => p.Requirements).OfType<WorkspaceRoleRequirement>().FirstOrDefault()?.Roles;

    /// <summary>The bearer scheme, the workspace/role rule and the answers that say why a request is refused.</summary>
    public static IServiceCollection AddWorkspaceAccess(this IServiceCollection services)
    {
        // No default scheme (ASP.NET Core makes a lone scheme the default unless this documented
        // switch says not to): only the routes whose policy names the bearer scheme look a token up,
        // so a token sent to the page, the status or the schema costs no storage call and cannot fail it.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddSingleton<IAuthorizationHandler, WorkspaceRoleHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, WorkspaceAuthorizationResultHandler>();
        return services;
    }

    /// <summary>Authentication and authorization, after a check of the path's workspace id that needs no token.</summary>
    public static WebApplication UseWorkspaceAccess(this WebApplication app)
    {
        app.UseAuthentication();
        app.Use((context, next) =>
        {
            var workspaceId = context.Request.RouteValues["workspaceId"] as string;
            return context.GetEndpoint()?.Metadata.WorkspaceRoles() is null || WorkspaceIds.IsValid(workspaceId)
                ? next(context)
                : ApiProblem.BadRequest("invalid_workspace_id", "Invalid workspace id", "The workspace id in the path is not valid. " + WorkspaceIds.Rule, "workspaceId").ExecuteAsync(context);
        });
        app.UseAuthorization();
        return app;
    }
}

/// <summary>The caller's token must be of the route's workspace and have one of <see cref="Roles"/>.</summary>
public sealed record WorkspaceRoleRequirement(IReadOnlyList<string> Roles) : IAuthorizationRequirement;

/// <summary>Why a valid token may not act on the route's workspace: the 403 to answer.</summary>
public sealed class WorkspaceRefusal(IAuthorizationHandler handler, ApiProblem problem) : AuthorizationFailureReason(handler, problem.Detail)
{
    public ApiProblem Problem { get; } = problem;
}

internal sealed class WorkspaceRoleHandler : AuthorizationHandler<WorkspaceRoleRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, WorkspaceRoleRequirement requirement)
    {
        if (Caller.From(context.User) is not { } caller)
        {
            return Task.CompletedTask; // no token: the bearer scheme's challenge says why
        }
        var workspaceId = (context.Resource as HttpContext)?.Request.RouteValues["workspaceId"] as string;
        if (!string.Equals(caller.WorkspaceId, workspaceId, StringComparison.Ordinal))
        {
            context.Fail(new WorkspaceRefusal(this, new ApiProblem(StatusCodes.Status403Forbidden, "forbidden", "Forbidden", "This access token does not grant access to this workspace.")));
        }
        else if (!requirement.Roles.Contains(caller.Role, StringComparer.Ordinal))
        {
            context.Fail(new WorkspaceRefusal(this, new ApiProblem(StatusCodes.Status403Forbidden, "insufficient_role", "Forbidden",
                $"This requires the {string.Join(" or ", requirement.Roles)} role; the access token has the {caller.Role} role.")));
        }
        else
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// Answers a refused request with its problem, and counts an admitted workspace request against
/// the limits that need the token (<see cref="WorkspaceRateLimits.Admit"/>): after the checks, so
/// only the workspace's own tokens spend its buckets (the per-address limit has already counted
/// this request, whatever its token).
/// </summary>
internal sealed class WorkspaceAuthorizationResultHandler(WorkspaceRateLimits limits, ILoggerFactory loggers) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();
    private readonly ILogger _logger = loggers.CreateLogger("AuditTrail.Access");

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailureReasons.OfType<WorkspaceRefusal>().FirstOrDefault() is { } refusal)
        {
            await refusal.Problem.ExecuteAsync(context);
            return;
        }
        if (authorizeResult.Succeeded && policy.Requirements.OfType<WorkspaceRoleRequirement>().Any() && Caller.From(context.User) is { } caller)
        {
            limits.Admit(context, caller.TokenId, caller.WorkspaceId);
            _logger.LogInformation("{Method} {Path} by token {TokenId} ({Role}) of workspace {WorkspaceId}",
                context.Request.Method, context.Request.Path, caller.TokenId, caller.Role, caller.WorkspaceId);
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
