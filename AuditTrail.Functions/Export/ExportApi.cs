using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Query;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Query;

namespace AuditTrail.Functions.Export;

/// <summary>CSV export of a filtered view: the same filters as the query API, a time-limited download link.</summary>
public static class ExportApi
{
    private static readonly HashSet<string> Parameters = new(StringComparer.Ordinal)
    {
        "start", "end", "type", "productArea", "actorId", "actorType", "resourceType", "resourceId",
    };

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        var exports = app.MapGroup("/api/workspaces/{workspaceId}/exports")
            .RequireWorkspaceRole(Roles.Owner)
            .WithTags("Export");

        exports.MapPost("/", CreateAsync)
            .WithName("CreateExport")
            .WithSummary("Export the filtered trail as CSV (same filters as listing); answers with a read-only download link.")
            .Produces<ExportResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest);

        exports.MapGet("/{exportId}", GetAsync)
            .WithName("GetExport")
            .WithSummary("An export's status and a fresh download link.")
            .Produces<ExportResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone);
        return app;
    }

    private static async Task<IResult> CreateAsync(string workspaceId, HttpRequest request, ExportService exports, TimeProvider time, CancellationToken cancellationToken)
    {
        AuditQuery query;
        try
        {
            query = QueryParameters.Parse(workspaceId, request.Query, time.GetUtcNow(), Parameters);
        }
        catch (QueryValidationException ex)
        {
            throw new ProblemException(StatusCodes.Status400BadRequest, ex.Code, "Invalid query parameter", ex.Message, ex.Parameter);
        }
        var token = request.HttpContext.CallerToken()!;
        var info = await exports.CreateAsync(query, new ExportActor("token", token.Id, token.Name), cancellationToken);
        return TypedResults.Created($"/api/workspaces/{workspaceId}/exports/{info.Id}", ExportResponse.From(info));
    }

    private static async Task<IResult> GetAsync(string workspaceId, string exportId, ExportService exports, CancellationToken cancellationToken)
    {
        var info = await exports.GetAsync(workspaceId, exportId, cancellationToken)
                   ?? throw new ProblemException(StatusCodes.Status404NotFound, "export_not_found", "Export not found", "This workspace has no export with that id.", "exportId");
        if (info.DownloadUrl is null)
        {
            throw new ProblemException(StatusCodes.Status410Gone, "export_expired", "Export expired",
                $"Exports are kept {ExportService.KeepDays} days; this one expired at {info.ExpiresAt:u}. Create a new one.");
        }
        return TypedResults.Ok(ExportResponse.From(info));
    }
}

public sealed record ExportResponse(string Id, string Status, long RowCount, long ByteSize, string FileName,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string? DownloadUrl, DateTimeOffset? DownloadUrlExpiresAt)
{
    public static ExportResponse From(ExportInfo i) =>
        new(i.Id, i.Status, i.RowCount, i.ByteSize, i.FileName, i.CreatedAt, i.ExpiresAt, i.DownloadUrl?.ToString(), i.DownloadUrlExpiresAt);
}
