using System.Net;
using AuditTrail.Tests.Infrastructure;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace AuditTrail.Tests.Client;

/// <summary>
/// The served OpenAPI document, read with Microsoft.OpenApi, held to rules that hold for every
/// operation (so a route added later is checked without a test of its own).
/// </summary>
public sealed class OpenApiDocumentTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task<(OpenApiDocument Document, OpenApiDiagnostic Diagnostic, string Text)> ReadAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync("/openapi/v1.json", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var (document, diagnostic) = OpenApiDocument.Parse(text, "json", new OpenApiReaderSettings());
        return (document!, diagnostic!, text);
    }

    private static IEnumerable<(string Path, HttpMethod Method, OpenApiOperation Operation)> Operations(OpenApiDocument document) =>
        document.Paths.SelectMany(p => (p.Value.Operations ?? []).Select(o => (p.Key, o.Key, o.Value)));

    [Fact]
    public async Task Served_document_reads_without_a_diagnostic()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();

        var (document, diagnostic, _) = await ReadAsync(http, Ct);

        Assert.Empty(diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}"));
        Assert.Empty(diagnostic.Warnings.Select(e => $"{e.Pointer}: {e.Message}"));
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, diagnostic.SpecificationVersion);
        Assert.NotEmpty(Operations(document));
    }

    [Fact]
    public async Task Every_operation_answers_success_with_a_schema_and_every_error_with_a_problem_carrying_code()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var (document, _, _) = await ReadAsync(http, Ct);

        var problem = Assert.IsType<OpenApiSchema>(document.Components!.Schemas!["ProblemDetails"]);
        Assert.Contains("code", problem.Required!);
        Assert.Equal(JsonSchemaType.String, problem.Properties!["code"].Type);
        var failures = new List<string>();
        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method} {path}";
            var success = operation.Responses!.Where(r => r.Key.StartsWith('2')).ToList();
            if (success.Count == 0)
            {
                failures.Add($"{name}: no success answer");
            }
            foreach (var (status, response) in success)
            {
                if (response.Content is not { Count: > 0 } content || content.Values.Any(m => m.Schema is null))
                {
                    failures.Add($"{name}: {status} has no schema");
                }
            }
            if (!operation.Responses!.ContainsKey("500"))
            {
                failures.Add($"{name}: no 500 answer");
            }
            foreach (var (status, response) in operation.Responses!.Where(r => r.Key[0] is '4' or '5'))
            {
                var schema = response.Content?.TryGetValue("application/problem+json", out var media) == true ? media.Schema : null;
                if (schema is not OpenApiSchemaReference { Reference.Id: "ProblemDetails" })
                {
                    failures.Add($"{name}: {status} is not a ProblemDetails");
                }
            }
            if (string.IsNullOrEmpty(operation.OperationId) || string.IsNullOrEmpty(operation.Summary))
            {
                failures.Add($"{name}: no operationId or summary");
            }
        }
        Assert.Empty(failures);
    }

    [Fact]
    public async Task Every_workspace_route_takes_the_bearer_scheme_and_says_how_access_fails()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var (document, _, _) = await ReadAsync(http, Ct);

        var scheme = Assert.IsType<OpenApiSecurityScheme>(document.Components!.SecuritySchemes!["bearer"]);
        Assert.Equal((SecuritySchemeType.Http, "bearer"), (scheme.Type, scheme.Scheme));
        var workspace = Operations(document).Where(o => o.Path.StartsWith("/api/workspaces/", StringComparison.Ordinal)).ToList();
        Assert.True(workspace.Count >= 7, $"only {workspace.Count} workspace operations");
        var failures = new List<string>();
        foreach (var (path, method, operation) in workspace)
        {
            if (operation.Security is not { Count: > 0 } security || !security.Any(r => r.Keys.Any(k => k.Reference.Id == "bearer")))
            {
                failures.Add($"{method} {path}: no bearer security");
            }
            foreach (var status in new[] { "400", "401", "403", "503" })
            {
                if (!operation.Responses!.ContainsKey(status))
                {
                    failures.Add($"{method} {path}: no {status}");
                }
            }
        }
        Assert.Empty(failures);
        // Routes without a token say so by having no security requirement.
        Assert.Empty(document.Paths["/api/status"].Operations![HttpMethod.Get].Security ?? []);
    }

    [Fact]
    public async Task The_list_is_described_with_its_page_shape_parameters_limits_and_an_example()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var (document, _, _) = await ReadAsync(http, Ct);

        var list = document.Paths["/api/workspaces/{workspaceId}/audit-events"].Operations![HttpMethod.Get];
        var ok = list.Responses!["200"].Content!["application/json"];
        var page = Resolve(ok.Schema!);
        Assert.Equal(JsonSchemaType.Array, page.Properties!["value"].Type & JsonSchemaType.Array);
        var item = Resolve(page.Properties["value"].Items!);
        Assert.Superset(new HashSet<string> { "id", "workspaceId", "type", "productArea", "timestamp", "actor", "resource" }, item.Properties!.Keys.ToHashSet());
        Assert.Contains("nextLink", page.Properties.Keys);
        Assert.NotNull(ok.Example);

        var parameters = list.Parameters!.ToDictionary(p => p.Name!);
        Assert.Equal(("1", "1000"), (parameters["limit"].Schema!.Minimum, parameters["limit"].Schema!.Maximum));
        Assert.Equal(["user", "token", "system"], parameters["actorType"].Schema!.Enum!.Select(e => e.GetValue<string>()));
        Assert.Equal(256, parameters["actorId"].Schema!.MaxLength);

        var post = document.Paths["/api/workspaces/{workspaceId}/audit-events"].Operations![HttpMethod.Post];
        Assert.NotNull(post.RequestBody!.Content!["application/json"].Example);
        Assert.NotNull(Resolve(post.Responses!["200"].Content!["application/json"].Schema!).Properties!["accepted"]);
        var export = document.Paths["/api/workspaces/{workspaceId}/exports"].Operations![HttpMethod.Post];
        Assert.Contains("downloadUrl", Resolve(export.Responses!["202"].Content!["application/json"].Schema!).Properties!.Keys);
    }

    [Fact]
    public async Task Events_are_described_with_their_source_on_the_list_and_the_single_event_route()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var (document, _, _) = await ReadAsync(http, Ct);

        var list = document.Paths["/api/workspaces/{workspaceId}/audit-events"].Operations![HttpMethod.Get];
        var item = Resolve(Resolve(list.Responses!["200"].Content!["application/json"].Schema!).Properties!["value"].Items!);
        var single = Resolve(document.Paths["/api/workspaces/{workspaceId}/audit-events/{eventId}"].Operations![HttpMethod.Get].Responses!["200"].Content!["application/json"].Schema!);
        foreach (var e in new[] { item, single })
        {
            var source = Resolve(e.Properties!["source"]);
            var values = source.Enum ?? source.OneOf?.Select(Resolve).SelectMany(s => s.Enum ?? []).ToList();
            var texts = values!.Select(v => v?.ToJsonString() ?? "null").ToList();
            Assert.Equal(["\"hub\"", "\"api\"", "\"trail\""], texts.Take(3));
            // Nullable (a row without a door has no source), which the document states as a null member.
            Assert.All(texts.Skip(3), t => Assert.Contains("null", t, StringComparison.Ordinal));
            var described = new[] { e.Properties["source"], source }.Concat(source.OneOf?.Select(Resolve) ?? []).Select(s => s.Description);
            Assert.Contains(described, d => d?.Contains("the audit trail's own record", StringComparison.Ordinal) == true);
        }
    }

    private static IOpenApiSchema Resolve(IOpenApiSchema schema) => schema is OpenApiSchemaReference r ? r.Target! : schema;
}
