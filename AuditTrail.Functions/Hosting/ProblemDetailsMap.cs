using System.Text.Json;
using AuditTrail.Core.Storage;
using AuditTrail.Functions.Access;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// The one map from exceptions to RFC 7807 answers for the whole app. Every problem carries a
/// stable <c>code</c> beside the human <c>detail</c>; storage outages become 503 with Retry-After so
/// producers back off and retry; nothing internal (stack, connection, keys) leaks into a body.
/// </summary>
public sealed class ProblemDetailsMap(ILogger<ProblemDetailsMap> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, code, title, detail, parameter) = Map(exception, httpContext);
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            // Record the storage failure precisely (status, code, the failed action of a transaction), then answer.
            logger.LogError(exception, "{Method} {Path} failed: {Code}; {Cause}", httpContext.Request.Method, httpContext.Request.Path, code, StorageFailures.Describe(exception));
        }
        else if (status >= 500)
        {
            logger.LogError(exception, "{Method} {Path} failed: {Code}", httpContext.Request.Method, httpContext.Request.Path, code);
        }
        var retryAfter = exception is RateLimitedException limited ? limited.RetryAfter : (TimeSpan?)null;
        return await WriteAsync(httpContext, new ApiProblem(status, code, title, detail, parameter, retryAfter), exception);
    }

    /// <summary>
    /// Writes <paramref name="problem"/> as the app's one problem shape, with the headers its status
    /// implies; a refusal (4xx) is logged here, a failure where it was caught. The exception handler
    /// and the routes that answer a refusal as a value (<see cref="ApiProblem"/>) both end here.
    /// </summary>
    internal static async ValueTask<bool> WriteAsync(HttpContext httpContext, ApiProblem problem, Exception? exception = null)
    {
        var (status, code, title, detail, parameter, retryAfter) = problem;
        if (status < 500)
        {
            httpContext.RequestServices.GetRequiredService<ILogger<ProblemDetailsMap>>().LogInformation(
                "{Method} {Path} refused with {Status} {Code}: {Detail}", httpContext.Request.Method, httpContext.Request.Path, status, code, detail);
        }
        // Set here, not where the refusal is decided: the exception handler clears the response first.
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "5";
        }
        if (retryAfter is { } wait)
        {
            httpContext.Response.Headers.RetryAfter = RateLimitedException.Seconds(wait);
        }
        if (status == StatusCodes.Status401Unauthorized)
        {
            httpContext.Response.Headers.WWWAuthenticate = "Bearer";
        }
        httpContext.Response.StatusCode = status;
        var details = new ProblemDetails { Status = status, Title = title, Detail = detail, Type = $"https://httpstatuses.io/{status}" };
        details.Extensions["code"] = code;
        if (parameter is not null)
        {
            details.Extensions["parameter"] = parameter;
        }
        var problems = httpContext.RequestServices.GetRequiredService<IProblemDetailsService>();
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = details, Exception = exception });
    }

    private const string RateLimitedTitle = "Too many requests";

    /// <summary>
    /// The per-address limiter's answer, written by the rate-limiting middleware without an
    /// exception (it answers floods): the same problem <see cref="TryHandleAsync"/> writes for a
    /// <see cref="RateLimitedException"/>, with Retry-After.
    /// </summary>
    internal static async ValueTask WriteRateLimitedAsync(HttpContext httpContext, RateLimitedException limited, CancellationToken cancellationToken)
    {
        httpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        httpContext.Response.Headers.RetryAfter = RateLimitedException.Seconds(limited.RetryAfter);
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status429TooManyRequests, Title = RateLimitedTitle, Detail = limited.Message,
            Type = $"https://httpstatuses.io/{StatusCodes.Status429TooManyRequests}",
        };
        problem.Extensions["code"] = RateLimitedException.Code;
        var problems = httpContext.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem }))
        {
            await httpContext.Response.WriteAsJsonAsync(problem, cancellationToken);
        }
    }

    internal static (int Status, string Code, string Title, string Detail, string? Parameter) Map(Exception exception, HttpContext context) => exception switch
    {
        ProblemException p => (p.Status, p.Code, p.Title, p.Message, p.Parameter),
        RateLimitedException r => (StatusCodes.Status429TooManyRequests, RateLimitedException.Code, RateLimitedTitle, r.Message, null),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (413, "request_too_large", "Request body too large", "The request body is larger than this endpoint accepts.", null),
        BadHttpRequestException b => (b.StatusCode, "bad_request", "Bad request", b.Message, null),
        Core.Ingestion.UnrecordableActionException { BeforeAction: true } u => (400, "unrecordable_action", "Action not recordable",
            $"Nothing was changed: the audit event of this action would be refused by the trail ({u.Rejection.Reason}).", null),
        Core.Ingestion.TrailRecordConflictException c => (500, "trail_record_conflict", "Audit record conflict", c.Message, null),
        Core.Integrity.IntegrityRangeException r => (400, Core.Integrity.IntegrityRangeException.Code, "Invalid range", r.Message, r.Parameter),
        Core.Query.QueryValidationException q => (400, q.Code, ApiProblem.InvalidQueryTitle, q.Message, q.Parameter),
        Core.Forwarding.ForwardingSettingsException f => (400, f.Code, "Invalid forwarding settings", f.Message, f.Field),
        JsonException j => (400, "invalid_json", "Invalid JSON", $"The request body is not valid JSON: {j.Message}", null),
        // Whatever was thrown once the client went away is that: it stopped the work.
        _ when context.RequestAborted.IsCancellationRequested => (499, "client_closed_request", "Client closed request", "The client closed the connection before the answer was ready.", null),
        // Whatever was thrown once the request's storage deadline passed is that: storage did not answer in time.
        _ when context.Features.Get<StorageDeadline.Passed>() is { Expired: true } passed
            => (503, "storage_unavailable", "Storage unavailable", $"Audit storage did not answer within {passed.After.TotalSeconds:0.#} s; nothing from this request was acknowledged. Retry later.", null),
        // A cancellation the client did not ask for is a dependency that did not answer in time (the storage clients' try timeout).
        _ when StorageFailures.IsUnavailable(exception, context.RequestAborted)
            => (503, "storage_unavailable", "Storage unavailable", "Audit storage is not reachable right now; nothing from this request was acknowledged. Retry later.", null),
        _ => (500, "internal_error", "Internal error", "The request failed on the server. It has been logged; nothing from it was acknowledged.", null),
    };
}

public static class HttpServiceCollectionExtensions
{
    /// <summary>Error handling for the whole app, the rate limits, one storage deadline per API request, token checks, and the OpenAPI document at <c>/openapi/v1.json</c>.</summary>
    public static WebApplication UseAuditTrailHttp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // After the error handling (its answers are problems too), before the storage deadline and
        // the endpoints: a refused request costs no storage call and no token check.
        app.UseRateLimiter();
        app.UseMiddleware<StorageDeadline>();
        app.UseWorkspaceAccess();
        app.MapOpenApi();
        return app;
    }

    public static IServiceCollection AddAuditTrailHttp(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Extensions["traceId"] = c.HttpContext.TraceIdentifier;
            // Status-only answers (404 for an unknown route, 405) get a code too.
            if (!c.ProblemDetails.Extensions.ContainsKey("code"))
            {
                c.ProblemDetails.Extensions["code"] = c.ProblemDetails.Status switch
                {
                    404 => "not_found",
                    405 => "method_not_allowed",
                    415 => "unsupported_media_type",
                    _ => "error",
                };
            }
        });
        services.AddExceptionHandler<ProblemDetailsMap>();
        services.AddAuditTrailRateLimits();
        services.AddWorkspaceAccess();
        services.AddOpenApi(OpenApiConventions.Configure);
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AuditTrailJsonContext.Default));
        return services;
    }
}
