using Microsoft.AspNetCore.Http.HttpResults;

namespace AuditTrail.Functions.Schemas;

/// <summary>
/// The event's JSON Schema, for producers in any language to validate before they send. The file
/// in the repository (<c>schemas/audit-event.json</c>) is compiled in, so what is served is what is
/// reviewed and tested against the ingest reader.
/// </summary>
public static class SchemaApi
{
    public const string AuditEventSchemaPath = "/api/schemas/audit-event.json";

    private const string ResourceName = "AuditTrail.Schemas.audit-event.json";

    /// <summary>The schema's bytes, read once from the assembly.</summary>
    public static ReadOnlyMemory<byte> AuditEventSchema { get; } = Load();

    public static IEndpointRouteBuilder MapSchemaApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(AuditEventSchemaPath, GetAuditEventSchema)
            .WithTags("Schemas")
            .WithName("GetAuditEventSchema")
            .WithSummary("The JSON Schema (2020-12) of one audit event as a producer sends it; needs no token.")
            .Produces<System.Text.Json.JsonElement>(StatusCodes.Status200OK, "application/schema+json");
        return app;
    }

    private static FileContentHttpResult GetAuditEventSchema(HttpContext context)
    {
        context.Response.Headers.CacheControl = "public, max-age=3600";
        return TypedResults.Bytes(AuditEventSchema, "application/schema+json");
    }

    private static byte[] Load()
    {
        using var stream = typeof(SchemaApi).Assembly.GetManifestResourceStream(ResourceName)
                           ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
