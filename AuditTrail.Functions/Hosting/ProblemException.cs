namespace AuditTrail.Functions.Hosting;

/// <summary>
/// A request the app refuses, with everything its problem-details answer needs: status, a stable
/// machine-readable code, a human detail, and the offending parameter when there is one.
/// </summary>
public sealed class ProblemException : Exception
{
    public ProblemException(int status, string code, string title, string detail, string? parameter = null) : base(detail)
    {
        Status = status;
        Code = code;
        Title = title;
        Parameter = parameter;
    }

    public ProblemException()
    {
        Code = "error";
        Title = "Error";
    }

    public ProblemException(string message) : base(message)
    {
        Code = "error";
        Title = "Error";
    }

    public ProblemException(string message, Exception innerException) : base(message, innerException)
    {
        Code = "error";
        Title = "Error";
    }

    public int Status { get; } = StatusCodes.Status400BadRequest;
    public string Code { get; }
    public string Title { get; }
    public string? Parameter { get; }
}
