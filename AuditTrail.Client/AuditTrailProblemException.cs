using System.Net;

namespace AuditTrail.Client;

/// <summary>The trail refused a request: its RFC 7807 answer, with the stable <see cref="Code"/> to act on.</summary>
public class AuditTrailProblemException : Exception
{
    public AuditTrailProblemException(HttpStatusCode status, string code, string? title, string? detail, string? parameter = null)
        : base($"{(int)status} {code}: {detail ?? title}")
    {
        Status = status;
        Code = code;
        Title = title;
        Detail = detail;
        Parameter = parameter;
    }

    public AuditTrailProblemException() : this(HttpStatusCode.InternalServerError, "error", null, null)
    {
    }

    public AuditTrailProblemException(string message) : base(message)
    {
        Code = "error";
    }

    public AuditTrailProblemException(string message, Exception innerException) : base(message, innerException)
    {
        Code = "error";
    }

    public HttpStatusCode Status { get; }

    /// <summary>For example invalid_parameter, missing_token, insufficient_role, storage_unavailable (docs/api.md).</summary>
    public string Code { get; }

    public string? Title { get; }
    public string? Detail { get; }

    /// <summary>The offending parameter, when the trail named one.</summary>
    public string? Parameter { get; }

    /// <summary>Worth sending again later: the trail acknowledged nothing (503, 429, 500).</summary>
    public bool IsTransient => Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout;
}

/// <summary>401: no valid token (missing_token, invalid_token, token_expired, token_revoked).</summary>
public sealed class AuditTrailUnauthorizedException(string code, string? title, string? detail)
    : AuditTrailProblemException(HttpStatusCode.Unauthorized, code, title, detail);

/// <summary>403: a token of another workspace (forbidden) or too weak a role (insufficient_role).</summary>
public sealed class AuditTrailForbiddenException(string code, string? title, string? detail)
    : AuditTrailProblemException(HttpStatusCode.Forbidden, code, title, detail);

/// <summary>An event the trail would refuse, found before anything was sent: the same code and field the trail gives.</summary>
public sealed class AuditEventRejectedException(int index, string code, string reason, string? field)
    : Exception($"Event {index} would be refused: {code}{(field is null ? "" : $" ({field})")}: {reason}")
{
    public int Index { get; } = index;
    public string Code { get; } = code;
    public string Reason { get; } = reason;
    public string? Field { get; } = field;
}

internal sealed record ProblemBody(string? Type, string? Title, int? Status, string? Detail, string? Code, string? Parameter);

internal static class Problems
{
    /// <summary>The response's problem as a typed exception; a body that is not a problem still gives one, with code http_{status}.</summary>
    public static async Task<AuditTrailProblemException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ProblemBody? body = null;
        try
        {
            body = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync(response.Content, ClientJsonContext.Default.ProblemBody, cancellationToken);
        }
        catch (System.Text.Json.JsonException)
        {
        }
        var code = string.IsNullOrEmpty(body?.Code) ? $"http_{(int)response.StatusCode}" : body.Code;
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => new AuditTrailUnauthorizedException(code, body?.Title, body?.Detail),
            HttpStatusCode.Forbidden => new AuditTrailForbiddenException(code, body?.Title, body?.Detail),
            _ => new AuditTrailProblemException(response.StatusCode, code, body?.Title, body?.Detail, body?.Parameter),
        };
    }
}
