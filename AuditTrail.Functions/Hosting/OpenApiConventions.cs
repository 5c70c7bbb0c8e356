using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Functions.Access;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace AuditTrail.Functions.Hosting;

/// <summary>A query parameter as the OpenAPI document describes it: the limits are the ones the parser applies.</summary>
public sealed record QueryParameterSpec(string Name, string Description, int? MaxLength = null, IReadOnlyList<string>? Enum = null,
    int? Minimum = null, int? Maximum = null, int? Default = null, string? Format = null, string? Example = null);

/// <summary>The query parameters an endpoint takes, as the parser reads them (the binder sees only text).</summary>
public sealed record QueryParametersMetadata(IReadOnlyList<QueryParameterSpec> Parameters);

/// <summary>An example for the request body (<see cref="Status"/> null) or for one response, as JSON text.</summary>
public sealed record OpenApiExampleMetadata(int? Status, string Json);

public static class OpenApiConventionExtensions
{
    public static TBuilder WithQueryParameters<TBuilder>(this TBuilder builder, IReadOnlyList<QueryParameterSpec> parameters) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new QueryParametersMetadata(parameters));

    public static TBuilder WithRequestExample<TBuilder>(this TBuilder builder, string json) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OpenApiExampleMetadata(null, json));

    public static TBuilder WithResponseExample<TBuilder>(this TBuilder builder, int status, string json) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OpenApiExampleMetadata(status, json));
}

/// <summary>
/// Makes the OpenAPI document complete by the way routes are declared, not route by route: every
/// error answer is an RFC 7807 problem with its <c>code</c>; every route with
/// the bearer scheme in its authorization policy (every workspace route, through
/// <c>RequireWorkspaceRole</c>, and <c>RequireCaller</c>) carries the bearer security scheme and the 400/401/403/503 answers
/// its group's checks and storage deadline give; every route the rate limits apply to (all but
/// those <see cref="RateLimitExemptions"/> names) may answer 429; every route may answer 500. A new route inherits
/// all of it from its group.
/// </summary>
internal static class OpenApiConventions
{
    public const string BearerScheme = "bearer";
    public const string ProblemSchema = "ProblemDetails";

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            Describe(document);
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            operation.Responses ??= new OpenApiResponses();
            AddAccessAnswers(operation, metadata, context);
            AddError(operation, StatusCodes.Status500InternalServerError, "internal_error: nothing from the request was acknowledged.");
            AnswerErrorsWithProblems(operation, context);
            AddQueryParameters(operation, metadata);
            AddExamples(operation, metadata);
            return Task.CompletedTask;
        });
    }

    /// <summary>The document's title, the bearer scheme, the one problem shape, and the schema rules of <see cref="Normalize"/>.</summary>
    private static void Describe(OpenApiDocument document)
    {
        document.Info.Title = "Audit Trail API";
        document.Info.Description = "Record, filter and read each workspace's audit trail. Workspace routes take 'Authorization: Bearer <token>'. "
            + "Every error is an RFC 7807 problem (application/problem+json) with a stable 'code'.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "opaque",
            Description = "A workspace access token (tokens create --workspace <id> --role owner|ingest).",
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = Problem();
        Normalize(document.Components.Schemas);
        foreach (var media in document.Paths.Values.SelectMany(p => p.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                     .SelectMany(o => (o.Responses?.Values.SelectMany(r => r.Content?.Values ?? Enumerable.Empty<OpenApiMediaType>()) ?? []).Concat(o.RequestBody?.Content?.Values ?? Enumerable.Empty<OpenApiMediaType>())))
        {
            if (IsJsonElement(media.Schema))
            {
                media.Schema = new OpenApiSchema { Description = "Any JSON value." };
            }
        }
    }

    /// <summary>The bearer requirement and the answers of the token checks (from the route's authorization policy), and 429 where the rate limits apply.</summary>
    private static void AddAccessAnswers(OpenApiOperation operation, IList<object> metadata, OpenApiOperationTransformerContext context)
    {
        var policies = metadata.OfType<Microsoft.AspNetCore.Authorization.AuthorizationPolicy>().ToList();
        var roles = new EndpointMetadataCollection(metadata).WorkspaceRoles() ?? [];
        if (policies.Any(p => p.AuthenticationSchemes.Contains(Access.BearerTokenHandler.SchemeName)))
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
            AddError(operation, StatusCodes.Status401Unauthorized, "No valid access token: missing_token, invalid_token, token_expired or token_revoked.");
            if (roles.Count > 0)
            {
                AddError(operation, StatusCodes.Status400BadRequest, "The request is not valid (invalid_workspace_id, or the route's own codes).");
                AddError(operation, StatusCodes.Status403Forbidden, $"The token is for another workspace (forbidden) or lacks the role (insufficient_role): needs {string.Join(" or ", roles)}.");
                AddError(operation, StatusCodes.Status503ServiceUnavailable, "storage_unavailable: nothing was acknowledged; retry after Retry-After.");
            }
        }
        if (!RateLimitExemptions.IsExempt(context.Description.RelativePath))
        {
            AddError(operation, StatusCodes.Status429TooManyRequests, roles.Count > 0
                ? "rate_limited: too many requests from this address, token or workspace, or too many verifications or exports of the workspace at once; retry after Retry-After."
                : "rate_limited: too many requests from this address; retry after Retry-After.");
        }
    }

    /// <summary>Whatever the route declared, an error's body is the app's one problem shape (ProblemDetailsMap).</summary>
    private static void AnswerErrorsWithProblems(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        foreach (var (status, response) in operation.Responses!.ToList())
        {
            if (int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code >= 400)
            {
                operation.Responses![status] = new OpenApiResponse
                {
                    Description = string.IsNullOrEmpty(response.Description) ? ReasonPhrase(code) : response.Description,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, context.Document) },
                    },
                };
            }
        }
    }

    /// <summary>The query parameters as the parser reads them: the binder sees each as text, the spec says what is accepted.</summary>
    private static void AddQueryParameters(OpenApiOperation operation, IList<object> metadata)
    {
        if (metadata.OfType<QueryParametersMetadata>().FirstOrDefault() is not { } query)
        {
            return;
        }
        operation.Parameters ??= [];
        foreach (var p in query.Parameters)
        {
            var bound = operation.Parameters.ToList().FindIndex(o => o.In == ParameterLocation.Query && o.Name == p.Name);
            if (bound >= 0)
            {
                operation.Parameters[bound] = Parameter(p);
            }
            else
            {
                operation.Parameters.Add(Parameter(p));
            }
        }
    }

    private static void AddExamples(OpenApiOperation operation, IList<object> metadata)
    {
        foreach (var example in metadata.OfType<OpenApiExampleMetadata>())
        {
            var node = JsonNode.Parse(example.Json);
            var content = example.Status is { } s
                ? operation.Responses!.TryGetValue(s.ToString(CultureInfo.InvariantCulture), out var r) ? r.Content : null
                : operation.RequestBody?.Content;
            foreach (var media in content?.Values ?? [])
            {
                media.Example = node?.DeepClone();
            }
        }
    }

    /// <summary>
    /// Two rules of this API the schema generator cannot know: null means absent, so a nullable
    /// property is never required; and a <see cref="System.Text.Json.JsonElement"/> is any JSON, so it
    /// is the empty schema, not a component a generator would turn into an empty class.
    /// </summary>
    private static void Normalize(IDictionary<string, IOpenApiSchema> schemas)
    {
        schemas.Remove(nameof(System.Text.Json.JsonElement));
        foreach (var schema in schemas.Values.OfType<OpenApiSchema>())
        {
            if (schema.Properties is null)
            {
                continue;
            }
            foreach (var (name, property) in schema.Properties.ToList())
            {
                if (IsJsonElement(property) || (property is OpenApiSchema { OneOf: { } oneOf } && oneOf.Any(IsJsonElement)))
                {
                    schema.Properties[name] = new OpenApiSchema { Description = "Any JSON value." };
                    schema.Required?.Remove(name);
                }
                else if (IsNullable(property))
                {
                    schema.Required?.Remove(name);
                }
            }
        }
    }

    private static bool IsJsonElement(IOpenApiSchema? schema) => schema is OpenApiSchemaReference { Reference.Id: nameof(System.Text.Json.JsonElement) };

    private static bool IsNullable(IOpenApiSchema schema) =>
        (schema.Type is { } type && type.HasFlag(JsonSchemaType.Null))
        || (schema.OneOf?.Any(o => o.Type == JsonSchemaType.Null) ?? false);

    private static void AddError(OpenApiOperation operation, int status, string description)
    {
        var key = status.ToString(CultureInfo.InvariantCulture);
        if (operation.Responses!.TryGetValue(key, out var existing))
        {
            // A route's own ProducesProblem gives only the reason phrase; the convention says which codes.
            if (string.IsNullOrEmpty(existing.Description) || existing.Description == ReasonPhrase(status))
            {
                operation.Responses[key] = new OpenApiResponse { Description = description };
            }
            return;
        }
        operation.Responses[key] = new OpenApiResponse { Description = description };
    }

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);

    private static OpenApiParameter Parameter(QueryParameterSpec p)
    {
        var schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = p.MaxLength, Format = p.Format };
        if (p.Minimum is not null || p.Maximum is not null)
        {
            schema.Type = JsonSchemaType.Integer;
            schema.Format = "int32";
            schema.Minimum = p.Minimum?.ToString(CultureInfo.InvariantCulture);
            schema.Maximum = p.Maximum?.ToString(CultureInfo.InvariantCulture);
            schema.Default = p.Default is { } d ? JsonValue.Create(d) : null;
        }
        if (p.Enum is { } values)
        {
            schema.Enum = values.Select(v => (JsonNode)JsonValue.Create(v)).ToList();
        }
        return new OpenApiParameter
        {
            Name = p.Name,
            In = ParameterLocation.Query,
            Description = p.Description,
            Required = false,
            Schema = schema,
            Example = p.Example is null ? null : JsonValue.Create(p.Example),
        };
    }

    private static OpenApiSchema Problem() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "An RFC 7807 problem. 'code' is stable and machine-readable; 'detail' is for people.",
        Required = new HashSet<string> { "status", "title", "code" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable error code, such as invalid_parameter, missing_token, storage_unavailable (docs/api.md)." },
            ["parameter"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The offending parameter or field, when there is one." },
            ["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String },
        },
        Examples = [JsonNode.Parse("""{"type":"https://httpstatuses.io/400","title":"Invalid query parameter","status":400,"detail":"'limit' must be a whole number from 1 to 1000.","code":"invalid_parameter","parameter":"limit","traceId":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}""")!],
    };
}
