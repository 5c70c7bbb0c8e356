using System.Text.Json;
using System.Text.RegularExpressions;
using AuditTrail.Core.Access;
using AuditTrail.Core.Export;
using AuditTrail.Core.Forwarding;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Export;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using AuditTrail.Functions.Integrity;
using AuditTrail.Functions.Retention;
using AuditTrail.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using NCrontab;

namespace AuditTrail.Tests.Deployment;

/// <summary>What a user deploys (function.json, host.json, settings, infra) agrees with what the code serves and reads.</summary>
public sealed partial class ConsistencyTests(AzuriteFixture azurite)
{
    [Fact]
    public void Every_test_the_threat_model_names_exists()
    {
        var text = File.ReadAllText(Path.Combine(AppLayout.Root, "docs", "security.md"));
        var named = TestNamePattern().Matches(text).Select(m => m.Groups["name"].Value).Distinct().ToList();
        Assert.True(named.Count >= 20, $"docs/security.md names only {named.Count} tests.");
        var assembly = typeof(ConsistencyTests).Assembly;
        Assert.All(named, name =>
        {
            var split = name.LastIndexOf('.');
            var type = assembly.GetType("AuditTrail.Tests." + name[..split]);
            Assert.True(type?.GetMethod(name[(split + 1)..]) is not null, $"docs/security.md names {name}, which is not a test.");
        });
    }

    [GeneratedRegex(@"`(?<name>[A-Z][A-Za-z]+\.[A-Z][A-Za-z0-9]+\.[A-Z][A-Za-z0-9_]+)`")]
    private static partial Regex TestNamePattern();

    [Fact]
    public void Every_token_the_scripts_hand_out_expires()
    {
        foreach (var script in Directory.GetFiles(Path.Combine(AppLayout.Root, "scripts")))
        {
            foreach (var line in File.ReadLines(script).Where(l => l.Contains("tokens create", StringComparison.Ordinal) && !l.TrimStart().StartsWith('#')))
            {
                Assert.Matches(@"--expires-in-days [1-9]", line);
            }
        }
    }

    [Fact]
    public void The_functions_are_the_ones_the_app_implements()
    {
        Assert.Equal(
            new[] { ForwardingApi.QueueFunction, ExportApi.QueueFunction, "HttpApi", "AuditTrailPage", "AuditTrailPageAssets", "OpenApiDocument", IngestionApi.EventHubFunction, RetentionApi.TimerFunction, IntegrityApi.TimerFunction }.Order(),
            AppLayout.Functions().Keys.Order());
    }

    [Fact]
    public async Task Every_trigger_function_is_served_at_its_invocation_path_and_the_http_function_covers_the_api()
    {
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var _ = app.CreateClient();
        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => "/" + e.RoutePattern.RawText?.TrimStart('/')).ToHashSet();

        // No prefix, so the page can be at "/"; each HTTP function names its own public paths.
        Assert.Equal("", AppLayout.HostJson.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString());
        var httpRoutes = new Dictionary<string, string>();
        foreach (var (name, function) in AppLayout.Functions())
        {
            var trigger = AppLayout.Bindings(function).Single(b => b.GetProperty("direction").GetString() == "in");
            if (trigger.GetProperty("type").GetString() == "httpTrigger")
            {
                // Forwarded as-is only with exactly one httpTrigger and one http output (platform reference §1.6).
                Assert.Equal(2, AppLayout.Bindings(function).Count());
                httpRoutes[name] = trigger.GetProperty("route").GetString()!;
            }
            else
            {
                Assert.Contains("/" + name, routes);
            }
        }
        Assert.Equal(new Dictionary<string, string>
        {
            ["HttpApi"] = "api/{*path}",
            ["AuditTrailPage"] = "/",
            ["AuditTrailPageAssets"] = "assets/{*file}",
            ["OpenApiDocument"] = "openapi/{document}",
        }, httpRoutes);
        Assert.Contains(routes, r => r.StartsWith("/api/workspaces/", StringComparison.Ordinal));
        Assert.Contains("/", routes);
        Assert.Contains(routes, r => r.StartsWith("/assets/", StringComparison.Ordinal));
        // Every app route is reachable through one of them; nothing else is mapped.
        Assert.All(routes.Where(r => !AppLayout.Functions().ContainsKey(r.TrimStart('/'))),
            r => Assert.True(r == "/" || r.StartsWith("/api/", StringComparison.Ordinal) || r.StartsWith("/assets/", StringComparison.Ordinal) || r.StartsWith("/openapi/", StringComparison.Ordinal), r));
    }

    [Theory]
    [InlineData("/openapi/v1.json")] // the documented address (README, docs/api.md)
    public async Task A_request_the_host_forwards_for_the_OpenAPI_address_reaches_the_document(string address)
    {
        // Which HTTP function the host picks for the address: its route under host.json's prefix, GET allowed.
        var prefix = AppLayout.HostJson.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString()!;
        var matching = AppLayout.Functions()
            .Select(f => (f.Key, Trigger: AppLayout.Bindings(f.Value).Single(b => b.GetProperty("direction").GetString() == "in")))
            .Where(f => f.Trigger.GetProperty("type").GetString() == "httpTrigger"
                        && f.Trigger.GetProperty("methods").EnumerateArray().Any(m => m.GetString() == "get"))
            .Where(f => new TemplateMatcher(new RouteTemplate(RoutePatternFactory.Parse(prefix + "/" + f.Trigger.GetProperty("route").GetString()!.TrimStart('/'))), new RouteValueDictionary())
                .TryMatch(address, new RouteValueDictionary()))
            .ToList();
        Assert.True(matching.Count == 1, $"{address} is matched by {matching.Count} HTTP functions ({string.Join(", ", matching.Select(m => m.Key))}).");

        // enableForwardingHttpRequest: the host forwards the original method and path to the handler.
        await using var app = new AuditTrailAppFactory(azurite.ConnectionString);
        using var http = app.CreateClient();
        using var response = await http.GetAsync(address, TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        Assert.True(document.TryGetProperty("openapi", out _));
        Assert.True(document.GetProperty("paths").TryGetProperty("/api/workspaces/{workspaceId}/audit-events", out _));
    }

    [Fact]
    public void No_public_route_reaches_a_trigger_invocation_path()
    {
        // The invocation endpoints (/IngestAuditEvents, …) trust their caller as the host does and
        // carry no token: no HTTP function's route may match one, or the host would forward the
        // public request there.
        var functions = AppLayout.Functions();
        var matchers = functions.Values
            .Select(f => AppLayout.Bindings(f).Single(b => b.GetProperty("direction").GetString() == "in"))
            .Where(t => t.GetProperty("type").GetString() == "httpTrigger")
            .Select(t => t.GetProperty("route").GetString()!)
            .ToDictionary(r => r, r => new TemplateMatcher(new RouteTemplate(RoutePatternFactory.Parse(r)), new RouteValueDictionary()));
        bool Public(string path) => matchers.Values.Any(m => m.TryMatch(path, new RouteValueDictionary()));

        Assert.True(Public("/"));
        Assert.True(Public("/assets/app.js"));
        Assert.True(Public("/api/workspaces/ws_1/audit-events"));
        Assert.All(functions.Keys.Where(name => !name.StartsWith("AuditTrailPage", StringComparison.Ordinal) && name != "HttpApi"),
            name => Assert.False(Public("/" + name), $"/{name} is reachable from outside"));
    }

    [Fact]
    public void Binding_names_match_what_the_handlers_read()
    {
        var functions = AppLayout.Functions();
        Assert.Equal(IngestionApi.EventHubBinding, Trigger(functions[IngestionApi.EventHubFunction]).GetProperty("name").GetString());
        Assert.Equal(ForwardingApi.QueueBinding, Trigger(functions[ForwardingApi.QueueFunction]).GetProperty("name").GetString());
        var queue = Trigger(functions[ForwardingApi.QueueFunction]);
        Assert.Equal(ForwardingOutbox.QueueName, queue.GetProperty("queueName").GetString());
        Assert.Equal(ExportApi.QueueBinding, Trigger(functions[ExportApi.QueueFunction]).GetProperty("name").GetString());
        Assert.Equal(ExportService.QueueName, Trigger(functions[ExportApi.QueueFunction]).GetProperty("queueName").GetString());
        var hub = Trigger(functions[IngestionApi.EventHubFunction]);
        Assert.Equal(("many", "string"), (hub.GetProperty("cardinality").GetString(), hub.GetProperty("dataType").GetString()));
        var schedule = Trigger(functions[RetentionApi.TimerFunction]).GetProperty("schedule").GetString()!;
        Assert.NotNull(CrontabSchedule.TryParse(schedule, new CrontabSchedule.ParseOptions { IncludingSeconds = true }));
        // Hourly, five minutes past (shared-names.md); the standalone app reads the same file.
        Assert.Equal("0 5 * * * *", Trigger(functions[IntegrityApi.TimerFunction]).GetProperty("schedule").GetString());
    }

    [Fact]
    public void Every_connection_and_setting_a_binding_names_is_in_the_sample_settings_and_the_infra()
    {
        var sample = AppLayout.SampleSettings;
        var infra = AppLayout.TemplateAppSettings;
        foreach (var (name, function) in AppLayout.Functions())
        {
            foreach (var binding in AppLayout.Bindings(function))
            {
                if (binding.TryGetProperty("connection", out var connection))
                {
                    var setting = connection.GetString()!;
                    Assert.True(sample.ContainsKey(setting), $"{name}: connection '{setting}' is not in local.settings.sample.json");
                    // Identity-based in Azure: the connection is a group of '{setting}__…' values.
                    Assert.True(infra.Keys.Any(k => k.StartsWith(setting + "__", StringComparison.Ordinal)), $"{name}: connection '{setting}' has no identity-based settings in infra/main.bicep");
                }
                foreach (var placeholder in binding.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String)
                             .SelectMany(p => Placeholder().Matches(p.Value.GetString()!)).Select(m => m.Groups[1].Value))
                {
                    Assert.True(sample.ContainsKey(placeholder), $"{name}: %{placeholder}% is not in local.settings.sample.json");
                    Assert.True(infra.ContainsKey(placeholder), $"{name}: %{placeholder}% is not an app setting in infra/main.bicep");
                }
            }
        }
        Assert.Contains("AzureWebJobsStorage__accountName", infra.Keys);
        // Flex Consumption names the worker runtime in functionAppConfig, not in an app setting;
        // locally the Functions host still reads it from the settings.
        Assert.Equal("custom", AppLayout.Site.GetProperty("properties").GetProperty("functionAppConfig").GetProperty("runtime").GetProperty("name").GetString());
        Assert.Equal("custom", sample["FUNCTIONS_WORKER_RUNTIME"]);
        // "/" is the page's, not the host's default landing page.
        Assert.Equal("true", infra["AzureWebJobsDisableHomepage"]);
        Assert.Equal("true", sample["AzureWebJobsDisableHomepage"]);
    }

    /// <summary>Every options type the app binds: a public class of the app's assemblies declaring its configuration <c>Section</c>.</summary>
    private static List<(Type Type, string Section)> OptionsTypes() =>
        new[] { typeof(Core.AuditTrailCoreServiceCollectionExtensions).Assembly, typeof(ForwardingApi).Assembly }
            .SelectMany(a => a.GetExportedTypes())
            .Select(t => (Type: t, Field: t.GetField("Section", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)))
            .Where(t => t.Field is { IsLiteral: true } && t.Field.FieldType == typeof(string))
            .Select(t => (t.Type, (string)t.Field!.GetRawConstantValue()!))
            .ToList();

    /// <summary>The keys the binder reads for <paramref name="type"/> under <paramref name="section"/>: its settable properties, nested option classes walked.</summary>
    private static IEnumerable<(string Key, System.Reflection.PropertyInfo Property)> BoundKeys(Type type, string section) =>
        type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true })
            .SelectMany(p => p.PropertyType.IsClass && p.PropertyType.Namespace?.StartsWith("AuditTrail", StringComparison.Ordinal) == true
                ? BoundKeys(p.PropertyType, section + ":" + p.Name)
                : [(section + ":" + p.Name, p)]);

    [Fact]
    public void Every_options_type_the_app_registers_declares_its_section()
    {
        var services = new ServiceCollection().AddLogging();
        Core.AuditTrailCoreServiceCollectionExtensions.AddAuditTrailCore(services, new ConfigurationBuilder().Build());
        var registered = services
            .Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(Microsoft.Extensions.Options.IConfigureOptions<>))
            .Select(d => d.ServiceType.GetGenericArguments()[0])
            .Where(t => t.Namespace?.StartsWith("AuditTrail", StringComparison.Ordinal) == true)
            .ToHashSet();

        Assert.NotEmpty(registered);
        Assert.Empty(registered.Except(OptionsTypes().Select(o => o.Type)));
    }

    [Fact]
    public void The_sample_settings_list_every_setting_the_options_types_bind_and_every_other_setting_the_app_reads()
    {
        var sample = AppLayout.SampleSettings.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var deploy = File.ReadAllText(Path.Combine(AppLayout.Root, "docs", "deploy.md"));
        var options = OptionsTypes();
        Assert.Contains(options, o => o.Type == typeof(Core.Query.QueryOptions));
        foreach (var (type, section) in options)
        {
            foreach (var (key, property) in BoundKeys(type, section))
            {
                if (type == typeof(Core.Storage.AuditStorageOptions) && property.DeclaringType == type)
                {
                    // The section's own value is the connection string; the identity settings are its
                    // alternative (setting one switches a local run off Azurite), so deploy.md names them.
                    if (property.Name == nameof(Core.Storage.AuditStorageOptions.ConnectionString))
                    {
                        Assert.True(sample.Contains(section), $"{section} is missing from local.settings.sample.json");
                    }
                    else
                    {
                        var child = char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
                        Assert.True(deploy.Contains($"{section}__{child}", StringComparison.Ordinal) || deploy.Contains($"`__{child}`", StringComparison.Ordinal),
                            $"{section}__{child} is not named in docs/deploy.md");
                    }
                    continue;
                }
                var variable = key.Replace(":", "__", StringComparison.Ordinal);
                Assert.True(sample.Contains(variable), $"{variable} ({type.Name}.{property.Name}) is missing from local.settings.sample.json");
            }
        }
        // Read directly from configuration rather than bound to an options type.
        foreach (var key in new[] { "AuditTrail__Url", "AuditTrail__Timers", "AuditTrail__InvocationEndpoints", "AuditTrail__ShutdownTimeout" })
        {
            Assert.True(sample.Contains(key), $"{key} is missing from local.settings.sample.json");
        }
    }

    [Fact]
    public void The_deploy_guide_names_every_function_folder()
    {
        var deploy = File.ReadAllText(Path.Combine(AppLayout.Root, "docs", "deploy.md"));

        Assert.All(AppLayout.Functions().Keys, name => Assert.Contains("`" + name + "`", deploy, StringComparison.Ordinal));
    }

    [Fact]
    public void Host_json_agrees_with_the_handler_and_the_standalone_forwarder()
    {
        var host = AppLayout.HostJson;
        Assert.Equal("AuditTrail.Functions", host.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString());
        Assert.True(host.GetProperty("customHandler").GetProperty("enableForwardingHttpRequest").GetBoolean());
        Assert.Equal("Microsoft.Azure.Functions.ExtensionBundle", host.GetProperty("extensionBundle").GetProperty("id").GetString());
        var queues = host.GetProperty("extensions").GetProperty("queues");
        var defaults = new ForwardingOptions();
        Assert.Equal(defaults.MaxDequeueCount, queues.GetProperty("maxDequeueCount").GetInt32());
        Assert.Equal(defaults.RetryDelay, TimeSpan.Parse(queues.GetProperty("visibilityTimeout").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(defaults.MaxPollingInterval, TimeSpan.Parse(queues.GetProperty("maxPollingInterval").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("base64", queues.GetProperty("messageEncoding").GetString());
        Assert.Equal(defaults.BatchSize, queues.GetProperty("batchSize").GetInt32());
        // host.json's queue settings apply to every queue function: the standalone exporter's defaults agree too.
        var export = new ExportOptions();
        Assert.Equal(export.MaxDequeueCount, queues.GetProperty("maxDequeueCount").GetInt32());
        Assert.Equal(export.RetryDelay, TimeSpan.Parse(queues.GetProperty("visibilityTimeout").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(export.MaxPollingInterval, TimeSpan.Parse(queues.GetProperty("maxPollingInterval").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(export.BatchSize, queues.GetProperty("batchSize").GetInt32());
        // A run hands over well before the host would end it.
        Assert.True(export.MaxRunTime <= TimeSpan.Parse(host.GetProperty("functionTimeout").GetString()!, System.Globalization.CultureInfo.InvariantCulture) / 2);
        Assert.True(host.GetProperty("extensions").TryGetProperty("eventHubs", out _));
    }

    /// <summary>Storage the template creates that no code of ours names: the platform's own.</summary>
    private static readonly string[] InfraOnlyTables = [];

    private static readonly string[] InfraOnlyContainers =
    [
        "app-package", // the platform's: where Flex Consumption keeps the deployed package
    ];

    [Fact]
    public void The_template_creates_the_storage_the_code_uses_and_only_the_listed_extras()
    {
        var tables = TemplateNames("Microsoft.Storage/storageAccounts/tableServices/tables");
        string[] codeTables = [TrailTables.EventsTable, TrailTables.EventIdsTable, TrailTables.PartitionsTable, TrailTables.WorkspaceDaysTable, TrailTables.KeysTable,
            AccessTokenService.TableName, ExportService.TableName, ForwardingSettingsStore.TableName, IntegrityStore.LedgerTable, IntegrityStore.DigestsTable];
        Assert.Empty(codeTables.Except(tables));
        Assert.Empty(tables.Except(codeTables).Except(InfraOnlyTables));

        var containers = TemplateNames("Microsoft.Storage/storageAccounts/blobServices/containers");
        string[] codeContainers = [TrailTables.DeadLetterContainer, ExportService.ContainerName, IntegrityStore.DigestContainer];
        Assert.Empty(codeContainers.Except(containers));
        Assert.Empty(containers.Except(codeContainers).Except(InfraOnlyContainers));

        // Queues: exactly the code's (the host creates none of its own on this account's names).
        Assert.Equal(new[] { ForwardingOutbox.QueueName, ForwardingOutbox.PoisonQueueName, ExportService.QueueName, ExportService.PoisonQueueName }.Order(),
            TemplateNames("Microsoft.Storage/storageAccounts/queueServices/queues").Order());
        // The extras are real names in the template, not stale entries of the lists above.
        Assert.Empty(InfraOnlyTables.Except(tables));
        Assert.Empty(InfraOnlyContainers.Except(containers));
    }

    [Fact]
    public void The_lifecycle_rules_expire_the_containers_the_code_writes_exports_and_dead_letters_to()
    {
        var rules = AppLayout.ResourcesOfType("Microsoft.Storage/storageAccounts/managementPolicies").Single()
            .GetProperty("properties").GetProperty("policy").GetProperty("rules").EnumerateArray()
            .ToDictionary(r => r.GetProperty("definition").GetProperty("filters").GetProperty("prefixMatch").EnumerateArray().Single().GetString()!,
                r => r.GetProperty("definition").GetProperty("actions").GetProperty("baseBlob").GetProperty("delete").GetProperty("daysAfterModificationGreaterThan").GetString());
        Assert.Equal(new Dictionary<string, string?>
        {
            [ExportService.ContainerName + "/"] = "[parameters('exportRetentionDays')]",
            [TrailTables.DeadLetterContainer + "/"] = "[parameters('deadLetterRetentionDays')]",
        }, rules);
    }

    /// <summary>
    /// The names of every <paramref name="type"/> resource in the compiled template: bicep writes a
    /// child's name as <c>format('{0}/{1}/{2}', …, last)</c>, the last argument a variable, or a
    /// variable's array element for a loop.
    /// </summary>
    private static List<string> TemplateNames(string type)
    {
        var variables = AppLayout.Template.GetProperty("variables");
        var names = new List<string>();
        foreach (var resource in AppLayout.ResourcesOfType(type))
        {
            var name = resource.GetProperty("name").GetString()!;
            var last = LastNameArgument().Match(name);
            Assert.True(last.Success, $"{type} named {name}: not a variable the test can read");
            var value = variables.GetProperty(last.Groups[1].Value);
            if (last.Groups[2].Success)
            {
                Assert.True(resource.TryGetProperty("copy", out _), $"{name} indexes a list without a loop");
                names.AddRange(value.EnumerateArray().Select(v => v.GetString()!));
            }
            else
            {
                names.Add(value.GetString()!);
            }
        }
        return names;
    }

    [GeneratedRegex(@", variables\('([A-Za-z0-9]+)'\)(\[copyIndex\(\)\])?\)\]$")]
    private static partial Regex LastNameArgument();

    private static JsonElement Trigger(JsonElement function) =>
        AppLayout.Bindings(function).Single(b => b.GetProperty("direction").GetString() == "in");

    [GeneratedRegex("%([A-Za-z0-9_]+)%")]
    private static partial Regex Placeholder();
}

/// <summary>The app refuses to start on a setting it cannot use, and says which.</summary>
public sealed class SettingsValidationTests
{
    [Theory]
    [InlineData("AuditStorage", "AccountName=x;AccountKey=not-base64!", "AuditStorage")]
    [InlineData("AuditStorage:blobServiceUri", "http://acct.blob.core.windows.net", "AuditStorage")]
    [InlineData("AuditTrail:Forwarding:DefaultEndpoint", "http://api.example.com", "AuditTrail:Forwarding:DefaultEndpoint")]
    [InlineData("AuditTrail:Forwarding:MaxDequeueCount", "0", "MaxDequeueCount")]
    public void A_bad_setting_stops_the_app_at_start_naming_it(string key, string value, string named)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (key.StartsWith("AuditStorage:", StringComparison.Ordinal))
        {
            settings["AuditStorage"] = ""; // the identity form replaces the connection string
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        Core.AuditTrailCoreServiceCollectionExtensions.AddAuditTrailCore(services, configuration);
        using var provider = services.BuildServiceProvider();

        // What the host runs at start for every ValidateOnStart option.
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => provider.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate());

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
