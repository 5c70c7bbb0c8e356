using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using AuditTrail.Core.Access;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Access;

/// <summary>
/// Authenticates the trail's bearer tokens (<see cref="AccessTokenService"/>). A request without a
/// valid token gets the 401 that says why there is none (missing, malformed or unknown, expired,
/// revoked) with <c>WWW-Authenticate: Bearer</c>, and nothing about the workspace it asked for.
/// </summary>
public sealed class BearerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AccessTokenService tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    private TokenCheck _check = TokenCheck.Missing;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var validation = await tokens.ValidateAsync(BearerToken(Request), Context.RequestAborted);
        _check = validation.Result;
        return validation.Result switch
        {
            TokenCheck.Valid => AuthenticateResult.Success(new AuthenticationTicket(Caller.Principal(validation.Token!, SchemeName), SchemeName)),
            TokenCheck.Missing => AuthenticateResult.NoResult(),
            _ => AuthenticateResult.Fail(validation.Result.ToString()),
        };
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        await HandleAuthenticateOnceAsync();
        await Refusal(_check).ExecuteAsync(Context);
    }

    /// <summary>The 401 for a token that did not pass; says nothing about which workspace, if any, was asked for.</summary>
    internal static ApiProblem Refusal(TokenCheck check) => check switch
    {
        TokenCheck.Missing => Unauthorized("missing_token", "Send an access token as 'Authorization: Bearer <token>'. Create one with 'tokens create --workspace <id> --role owner'."),
        TokenCheck.Expired => Unauthorized("token_expired", "The access token has expired. Ask a workspace owner for a new one."),
        TokenCheck.Revoked => Unauthorized("token_revoked", "The access token has been revoked. Ask a workspace owner for a new one."),
        _ => Unauthorized("invalid_token", "The access token is not valid. Check that it was copied whole."),
    };

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

    private static ApiProblem Unauthorized(string code, string detail) => new(StatusCodes.Status401Unauthorized, code, "Unauthorized", detail);
}

/// <summary>
/// The authenticated caller: the token that authorised the request (its id is the actor when the
/// request itself is audited). Bound as a route handler's parameter from the request's user.
/// </summary>
public sealed record Caller(string TokenId, string WorkspaceId, string Role, string? Name, DateTimeOffset? ExpiresAt)
{
    private const string WorkspaceClaim = "workspace";
    private const string ExpiresClaim = "expires";

    public static ValueTask<Caller?> BindAsync(HttpContext context) => ValueTask.FromResult(From(context.User));

    internal static ClaimsPrincipal Principal(AccessTokenInfo token, string scheme)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, token.Id),
            new(WorkspaceClaim, token.WorkspaceId),
            new(ClaimTypes.Role, token.Role),
        };
        if (token.Name is not null)
        {
            claims.Add(new Claim(ClaimTypes.Name, token.Name));
        }
        if (token.ExpiresAt is { } expires)
        {
            claims.Add(new Claim(ExpiresClaim, expires.ToString("O", CultureInfo.InvariantCulture)));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    internal static Caller? From(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true || user.FindFirstValue(ClaimTypes.NameIdentifier) is not { } id)
        {
            return null;
        }
        var expires = user.FindFirstValue(ExpiresClaim) is { } text ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind) : (DateTimeOffset?)null;
        return new Caller(id, user.FindFirstValue(WorkspaceClaim)!, user.FindFirstValue(ClaimTypes.Role)!, user.FindFirstValue(ClaimTypes.Name), expires);
    }
}
