using System.Text.Json;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Deployment;

/// <summary>The deployable files as they are in the repository, parsed once.</summary>
internal static class AppLayout
{
    public static string Root => AzuriteFixture.RepoRoot();

    public static JsonElement Json(params string[] path) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine([Root, .. path]))).RootElement.Clone();

    public static JsonElement HostJson => Json("host.json");

    /// <summary>The ARM template compiled from infra/main.bicep (once per test run, never committed).</summary>
    public static JsonElement Template => BicepCli.Template;

    /// <summary>The template's resources, whether bicep wrote them as an array or (language version 2.0) by symbolic name.</summary>
    public static IEnumerable<JsonElement> Resources =>
        Template.GetProperty("resources") is { ValueKind: JsonValueKind.Object } named
            ? named.EnumerateObject().Select(p => p.Value)
            : Template.GetProperty("resources").EnumerateArray();

    public static IEnumerable<JsonElement> ResourcesOfType(string type) =>
        Resources.Where(r => string.Equals(r.GetProperty("type").GetString(), type, StringComparison.OrdinalIgnoreCase));

    public static JsonElement Site => ResourcesOfType("Microsoft.Web/sites").Single();

    public static IReadOnlyDictionary<string, string> SampleSettings =>
        Json("local.settings.sample.json").GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    /// <summary>function name → its bindings, from AuditTrail.Functions/functions/*/function.json.</summary>
    public static IReadOnlyDictionary<string, JsonElement> Functions(string? root = null) =>
        Directory.GetDirectories(root ?? Path.Combine(Root, "AuditTrail.Functions", "functions"))
            .Where(d => File.Exists(Path.Combine(d, "function.json")))
            .ToDictionary(d => Path.GetFileName(d), d => JsonDocument.Parse(File.ReadAllText(Path.Combine(d, "function.json"))).RootElement.Clone());

    public static IEnumerable<JsonElement> Bindings(JsonElement function) => function.GetProperty("bindings").EnumerateArray();

    public static IReadOnlyDictionary<string, string> TemplateAppSettings =>
        Site.GetProperty("properties").GetProperty("siteConfig").GetProperty("appSettings").EnumerateArray()
            .ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("value").GetString()!);
}
