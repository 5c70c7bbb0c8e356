using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Tests.Infrastructure;
using Microsoft.OpenApi;

namespace AuditTrail.Tests.Client;

/// <summary>
/// The served document's operation set (each operation's parameters, answers and their content,
/// security) against a summary committed beside this file: a change to the HTTP layer's code must
/// not change what the document promises clients. A deliberate change to the API regenerates it:
/// <c>AUDITTRAIL_WRITE_OPENAPI_BASELINE=1 scripts/test --filter "FullyQualifiedName~OpenApiBaselineTests"</c>.
/// </summary>
public sealed class OpenApiBaselineTests(AzuriteFixture azurite)
{
    private const string FileName = "openapi-operations.baseline.json";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Served_document_describes_the_same_operations_parameters_and_answers_as_the_baseline()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        var (document, _, _) = await OpenApiDocumentTests.ReadAsync(http, Ct);

        var served = Summary(document).ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
        if (Environment.GetEnvironmentVariable("AUDITTRAIL_WRITE_OPENAPI_BASELINE") == "1")
        {
            await File.WriteAllTextAsync(Path.Combine(SourceDirectory(), FileName), served, Ct);
        }
        var baseline = await File.ReadAllTextAsync(Path.Combine(SourceDirectory(), FileName), Ct);
        Assert.Equal(baseline.ReplaceLineEndings("\n"), served);
    }

    /// <summary>"METHOD path" → operation id, parameters, request and response content, security; keys sorted so the text is stable.</summary>
    internal static JsonObject Summary(OpenApiDocument document)
    {
        var operations = document.Paths
            .SelectMany(p => (p.Value.Operations ?? []).Select(o => (Key: $"{o.Key.Method} {p.Key}", Operation: o.Value)))
            .OrderBy(o => o.Key, StringComparer.Ordinal);
        var summary = new JsonObject();
        foreach (var (key, operation) in operations)
        {
            summary[key] = new JsonObject
            {
                ["operationId"] = operation.OperationId,
                ["parameters"] = Strings((operation.Parameters ?? [])
                    .Select(p => $"{p.In?.ToString().ToLowerInvariant()} {p.Name}{(p.Required ? " required" : "")}")),
                ["requestBody"] = operation.RequestBody is { } body ? Content(body.Content) : null,
                ["responses"] = new JsonObject((operation.Responses ?? [])
                    .OrderBy(r => r.Key, StringComparer.Ordinal)
                    .Select(r => KeyValuePair.Create(r.Key, (JsonNode?)Content(r.Value.Content)))),
                ["security"] = Strings((operation.Security ?? []).SelectMany(r => r.Keys.Select(k => k.Reference.Id ?? "?"))),
            };
        }
        return summary;
    }

    /// <summary>Each content type with the schema it names (a component's id, or the inline schema's type).</summary>
    private static JsonArray Content(IDictionary<string, OpenApiMediaType>? content) => Strings((content ?? new Dictionary<string, OpenApiMediaType>())
        .Select(c => $"{c.Key} {Schema(c.Value.Schema)}".TrimEnd()));

    private static string Schema(IOpenApiSchema? schema) => schema switch
    {
        null => "",
        OpenApiSchemaReference r => r.Reference.Id ?? "?",
        { Type: JsonSchemaType.Array } a => $"[{Schema(a.Items)}]",
        _ => schema.Type?.ToString() ?? "any",
    };

    private static JsonArray Strings(IEnumerable<string> values) =>
        new([.. values.OrderBy(v => v, StringComparer.Ordinal).Select(v => (JsonNode?)JsonValue.Create(v))]);

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
