namespace AuditTrail.Functions.Hosting;

/// <summary>
/// A refusal as a value: the RFC 7807 answer with its stable <c>code</c>, written exactly as
/// <see cref="ProblemDetailsMap"/> writes a mapped exception (same body, headers and log line).
/// Routes return it in their <c>Results&lt;…&gt;</c> for the outcomes they expect.
/// </summary>
public sealed record ApiProblem(int Status, string Code, string Title, string Detail, string? Parameter = null, TimeSpan? RetryAfter = null) : IResult
{
    public const string InvalidQueryTitle = "Invalid query parameter";

    public Task ExecuteAsync(HttpContext httpContext) => ProblemDetailsMap.WriteAsync(httpContext, this).AsTask();

    public static ApiProblem BadRequest(string code, string title, string detail, string? parameter = null) =>
        new(StatusCodes.Status400BadRequest, code, title, detail, parameter);

    public static ApiProblem NotFound(string code, string title, string detail, string? parameter = null) =>
        new(StatusCodes.Status404NotFound, code, title, detail, parameter);
}
