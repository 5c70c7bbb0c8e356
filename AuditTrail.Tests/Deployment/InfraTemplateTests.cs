using System.Text.Json;

namespace AuditTrail.Tests.Deployment;

/// <summary>
/// infra/main.bicep, checked by the bicep CLI against Azure's published resource types, and the
/// template it compiles to held to what the app needs on Flex Consumption.
/// </summary>
public sealed class InfraTemplateTests
{
    private static JsonElement Properties(JsonElement resource) => resource.GetProperty("properties");

    private static JsonElement FunctionAppConfig => Properties(AppLayout.Site).GetProperty("functionAppConfig");

    private static JsonElement Variable(string name) => AppLayout.Template.GetProperty("variables").GetProperty(name);

    [Fact]
    public void The_template_compiles_with_no_error_and_no_warning()
    {
        var build = BicepCli.Build;

        Assert.True(build.ExitCode == 0 && build.Diagnostics.Count == 0, build.Describe());
    }

    [Fact]
    public void The_template_lints_with_no_error_and_no_warning()
    {
        var lint = BicepCli.Run("lint", BicepCli.MainBicep, "--no-restore");

        Assert.True(lint.ExitCode == 0 && lint.Diagnostics.Count == 0, lint.Describe());
    }

    [Fact]
    public void The_example_parameters_compile_against_the_template()
    {
        var run = BicepCli.Run("build-params", Path.Combine(AppLayout.Root, "infra", "main.bicepparam"), "--stdout", "--no-restore");

        Assert.True(run.ExitCode == 0 && run.Diagnostics.Count == 0, run.Describe());
        // --stdout writes {"parametersJson": "<the parameters file>", …}.
        var file = JsonDocument.Parse(run.Output).RootElement.GetProperty("parametersJson").GetString()!;
        var parameters = JsonDocument.Parse(file).RootElement.GetProperty("parameters").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("instanceMemoryMB", parameters);
        Assert.Empty(parameters.Except(AppLayout.Template.GetProperty("parameters").EnumerateObject().Select(p => p.Name)));
    }

    [Fact]
    public void A_misspelt_property_and_an_unused_parameter_are_reported_as_warnings()
    {
        // The checks above pass only because nothing is wrong: the same CLI and configuration do
        // report a property Azure's schema does not have and a parameter nothing reads.
        var directory = Directory.CreateTempSubdirectory("audittrail-bicep-lint-");
        try
        {
            var bicep = File.ReadAllText(BicepCli.MainBicep);
            Assert.Contains("instanceMemoryMB: instanceMemoryMB", bicep, StringComparison.Ordinal);
            var broken = Path.Combine(directory.FullName, "main.bicep");
            File.WriteAllText(broken, bicep.Replace("instanceMemoryMB: instanceMemoryMB", "instanceMemoryMb: instanceMemoryMB", StringComparison.Ordinal)
                                      + "\nparam notRead string = 'x'\n");
            File.Copy(Path.Combine(AppLayout.Root, "infra", "bicepconfig.json"), Path.Combine(directory.FullName, "bicepconfig.json"));

            var lint = BicepCli.Run("lint", broken, "--no-restore");

            Assert.Contains(lint.Diagnostics, d => d.Contains("Warning BCP089", StringComparison.Ordinal) && d.Contains("instanceMemoryMb", StringComparison.Ordinal));
            Assert.Contains(lint.Diagnostics, d => d.Contains("Warning no-unused-params", StringComparison.Ordinal) && d.Contains("notRead", StringComparison.Ordinal));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_bicep_executable_restored_without_its_run_bit_gets_it_back_and_runs()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix file modes only");
            return;
        }
        // A copy of the restored CLI stripped of every execute bit, as an extraction that drops modes leaves it.
        var directory = Directory.CreateTempSubdirectory("audittrail-bicep-mode-");
        try
        {
            var copy = Path.Combine(directory.FullName, "bicep");
            File.Copy(BicepCli.Executable, copy);
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            BicepCli.EnsureExecutable(copy);

            Assert.True(File.GetUnixFileMode(copy).HasFlag(UnixFileMode.UserExecute));
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(copy, ["--version"]) { RedirectStandardOutput = true })!;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(1));
            var version = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.StartsWith("Bicep CLI version 0.49.2", version, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_plan_is_Flex_Consumption_FC1_on_Linux()
    {
        var plan = AppLayout.ResourcesOfType("Microsoft.Web/serverfarms").Single();

        Assert.Equal("FC1", plan.GetProperty("sku").GetProperty("name").GetString());
        Assert.Equal("FlexConsumption", plan.GetProperty("sku").GetProperty("tier").GetString());
        Assert.True(Properties(plan).GetProperty("reserved").GetBoolean());
        Assert.Equal("functionapp,linux", AppLayout.Site.GetProperty("kind").GetString());
        Assert.Contains("Microsoft.Web/serverfarms", Properties(AppLayout.Site).GetProperty("serverFarmId").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_app_runs_the_custom_handler_runtime_scaled_by_parameters()
    {
        var runtime = FunctionAppConfig.GetProperty("runtime");
        Assert.Equal("custom", runtime.GetProperty("name").GetString());
        Assert.Equal("1.0", runtime.GetProperty("version").GetString());

        var scale = FunctionAppConfig.GetProperty("scaleAndConcurrency");
        Assert.Equal("[parameters('instanceMemoryMB')]", scale.GetProperty("instanceMemoryMB").GetString());
        Assert.Equal("[parameters('maximumInstanceCount')]", scale.GetProperty("maximumInstanceCount").GetString());
        var memory = AppLayout.Template.GetProperty("parameters").GetProperty("instanceMemoryMB");
        Assert.Equal([512, 2048, 4096], memory.GetProperty("allowedValues").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(2048, memory.GetProperty("defaultValue").GetInt32());

        // Settings Flex Consumption refuses: its runtime and package come from functionAppConfig.
        Assert.Empty(AppLayout.TemplateAppSettings.Keys.Intersect(["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME_VERSION",
            "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"]));
    }

    [Fact]
    public void Deployment_storage_is_a_blob_container_of_the_account_read_with_the_apps_user_assigned_identity()
    {
        var storage = FunctionAppConfig.GetProperty("deployment").GetProperty("storage");
        Assert.Equal("blobContainer", storage.GetProperty("type").GetString());
        var container = Variable("deploymentContainerName").GetString()!;
        Assert.Equal(
            "[format('{0}{1}', reference(resourceId('Microsoft.Storage/storageAccounts', variables('storageName')), '2023-05-01').primaryEndpoints.blob, variables('deploymentContainerName'))]",
            storage.GetProperty("value").GetString());
        Assert.Contains(AppLayout.ResourcesOfType("Microsoft.Storage/storageAccounts/blobServices/containers"),
            c => c.GetProperty("name").GetString()!.EndsWith("variables('deploymentContainerName'))]", StringComparison.Ordinal));
        Assert.Equal("app-package", container);

        var authentication = storage.GetProperty("authentication");
        Assert.Equal("UserAssignedIdentity", authentication.GetProperty("type").GetString());
        var identityId = authentication.GetProperty("userAssignedIdentityResourceId").GetString()!;
        Assert.Equal("[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))]", identityId);
        Assert.False(authentication.TryGetProperty("storageAccountConnectionStringName", out _));

        // The identity that reads the package is the app's own, and the only one it has.
        var identity = AppLayout.Site.GetProperty("identity");
        Assert.Equal("UserAssigned", identity.GetProperty("type").GetString());
        // Bicep writes the key as format('{0}', resourceId(…)).
        Assert.Contains(identityId.Trim('[', ']'), Assert.Single(identity.GetProperty("userAssignedIdentities").EnumerateObject()).Name, StringComparison.Ordinal);
    }

    [Fact]
    public void No_key_is_listed_and_no_app_setting_holds_a_key_or_a_connection_string()
    {
        var text = AppLayout.Template.GetRawText();
        Assert.DoesNotContain("listKeys", text, StringComparison.OrdinalIgnoreCase);
        // Nor any other list* function (listAccountSas, listConnectionStrings, …): each returns a secret.
        Assert.DoesNotMatch(@"(?i)\blist[a-z]*\(", text);

        var settings = AppLayout.TemplateAppSettings;
        foreach (var (name, value) in settings)
        {
            Assert.DoesNotContain("AccountKey", value, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("SharedAccessKey", value, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("DefaultEndpointsProtocol", value, StringComparison.OrdinalIgnoreCase);
            Assert.False(name.Contains("CONNECTION", StringComparison.OrdinalIgnoreCase) && name != "APPLICATIONINSIGHTS_CONNECTION_STRING", $"{name} looks like a connection string");
        }
        // No connection-string forms of the app's connections: the identity groups instead.
        Assert.Empty(settings.Keys.Intersect(["AuditStorage", "AzureWebJobsStorage", "AuditEventsHub"]));

        // The one "connection string" is Application Insights': an endpoint and an instrumentation
        // key, which is not a credential once the component refuses local (key-only) auth. The
        // exporter then signs in with the identity named by the authentication string, which holds
        // Monitoring Metrics Publisher (below).
        Assert.Equal("[reference(resourceId('Microsoft.Insights/components', variables('insightsName')), '2020-02-02').ConnectionString]", settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        var insights = AppLayout.ResourcesOfType("Microsoft.Insights/components").Single();
        Assert.True(Properties(insights).GetProperty("DisableLocalAuth").GetBoolean());
        Assert.Equal("[format('Authorization=AAD;ClientId={0}', reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), '2023-01-31').clientId)]",
            settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);

        // Keys are off where they exist: storage and Event Hubs accept Entra tokens only.
        Assert.False(Properties(AppLayout.ResourcesOfType("Microsoft.Storage/storageAccounts").Single()).GetProperty("allowSharedKeyAccess").GetBoolean());
        Assert.True(Properties(AppLayout.ResourcesOfType("Microsoft.EventHub/namespaces").Single()).GetProperty("disableLocalAuth").GetBoolean());
        // Nor can anyone publish with a user name and password.
        Assert.All(AppLayout.ResourcesOfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies"), p => Assert.False(Properties(p).GetProperty("allow").GetBoolean()));
        Assert.Equal(2, AppLayout.ResourcesOfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies").Count());
    }

    [Theory]
    [InlineData("AzureWebJobsStorage")]
    [InlineData("AuditStorage")]
    [InlineData("AuditEventsHub")]
    public void Every_identity_based_connection_names_the_user_assigned_identity(string connection)
    {
        var settings = AppLayout.TemplateAppSettings;

        Assert.Equal("managedidentity", settings[connection + "__credential"]);
        Assert.Equal("[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), '2023-01-31').clientId]", settings[connection + "__clientId"]);
    }

    [Fact]
    public void The_identity_holds_each_data_plane_role_on_its_resource_before_the_app_starts()
    {
        var roles = Variable("roles").EnumerateObject().ToDictionary(r => r.Name, r => r.Value.GetString()!);
        var assignments = AppLayout.ResourcesOfType("Microsoft.Authorization/roleAssignments").ToList();
        var granted = new List<(string Scope, string Role)>();
        foreach (var assignment in assignments)
        {
            var properties = Properties(assignment);
            Assert.Equal("[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), '2023-01-31').principalId]",
                properties.GetProperty("principalId").GetString());
            Assert.Equal("ServicePrincipal", properties.GetProperty("principalType").GetString());
            var scope = assignment.GetProperty("scope").GetString()!;
            var role = properties.GetProperty("roleDefinitionId").GetString()!;
            if (assignment.TryGetProperty("copy", out _))
            {
                Assert.Equal("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('storageRoles')[copyIndex()])]", role);
                // Each element is an expression naming one of the roles: [variables('roles').<name>].
                granted.AddRange(Variable("storageRoles").EnumerateArray().Select(r => (scope, roles[r.GetString()!.Split("variables('roles').")[1].TrimEnd(']')])));
            }
            else
            {
                var name = role.Split("variables('roles').")[1].TrimEnd(')', ']');
                granted.Add((scope, roles[name]));
            }
        }

        string Scope(string type, string variable) => $"[resourceId('{type}', variables('{variable}'))]";
        var storage = Scope("Microsoft.Storage/storageAccounts", "storageName");
        Assert.Equal(
            new[]
            {
                (storage, roles["storageBlobDataOwner"]),
                (storage, roles["storageTableDataContributor"]),
                (storage, roles["storageQueueDataContributor"]),
                (Scope("Microsoft.EventHub/namespaces", "eventHubNamespaceName"), roles["eventHubsDataReceiver"]),
                (Scope("Microsoft.Insights/components", "insightsName"), roles["monitoringMetricsPublisher"]),
                (Scope("Microsoft.KeyVault/vaults", "vaultName"), roles["keyVaultSecretsUser"]),
            }.Order(),
            granted.Order());
        // Azure's built-in role ids for those names.
        Assert.Equal(new Dictionary<string, string>
        {
            ["storageBlobDataOwner"] = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
            ["storageTableDataContributor"] = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
            ["storageQueueDataContributor"] = "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
            ["eventHubsDataReceiver"] = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
            ["monitoringMetricsPublisher"] = "3913510d-42f4-4e42-8a64-420c390055eb",
            ["keyVaultSecretsUser"] = "4633458b-17de-408a-b874-0445c86b69e6",
        }, roles);

        // The app is created after its roles, so the host's first start can reach its storage.
        var dependsOn = AppLayout.Site.GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()!).ToList();
        Assert.Contains("storageRoleAssignments", dependsOn);
        Assert.Equal(3, dependsOn.Count(d => d.Contains("Microsoft.Authorization/roleAssignments", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_signing_key_is_a_secret_of_its_own_vault_which_the_identity_reads_and_nothing_else()
    {
        // The vault: RBAC only, soft delete with purge protection (a deleted key cannot be destroyed early).
        var vault = AppLayout.ResourcesOfType("Microsoft.KeyVault/vaults").Single();
        var properties = Properties(vault);
        Assert.True(properties.GetProperty("enableRbacAuthorization").GetBoolean());
        Assert.True(properties.GetProperty("enableSoftDelete").GetBoolean());
        Assert.True(properties.GetProperty("enablePurgeProtection").GetBoolean());
        Assert.False(properties.TryGetProperty("accessPolicies", out _));

        // The key is a secure parameter, written as the vault's secret when given (else the guide stores it).
        var parameter = AppLayout.Template.GetProperty("parameters").GetProperty("digestSigningKeyPem");
        Assert.Equal("securestring", parameter.GetProperty("type").GetString());
        var secret = AppLayout.ResourcesOfType("Microsoft.KeyVault/vaults/secrets").Single();
        Assert.Equal("[parameters('digestSigningKeyPem')]", Properties(secret).GetProperty("value").GetString());
        Assert.Equal("digest-signing-key", Variable("signingKeySecretName").GetString());

        // Key Vault Secrets User for the app's identity, scoped to this vault alone.
        var assignment = Assert.Single(AppLayout.ResourcesOfType("Microsoft.Authorization/roleAssignments"),
            a => Properties(a).GetProperty("roleDefinitionId").GetString()!.Contains("keyVaultSecretsUser", StringComparison.Ordinal));
        Assert.Equal("[resourceId('Microsoft.KeyVault/vaults', variables('vaultName'))]", assignment.GetProperty("scope").GetString());
        Assert.Equal("4633458b-17de-408a-b874-0445c86b69e6", Variable("roles").GetProperty("keyVaultSecretsUser").GetString());

        // The app's key setting is a Key Vault reference to that secret, resolved with the user-assigned identity.
        Assert.Equal("[format('@Microsoft.KeyVault(VaultName={0};SecretName={1})', variables('vaultName'), variables('signingKeySecretName'))]",
            AppLayout.TemplateAppSettings["AuditTrail__Integrity__SigningKeyPem"]);
        Assert.Equal("[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))]",
            Properties(AppLayout.Site).GetProperty("keyVaultReferenceIdentity").GetString());
        Assert.DoesNotContain("AuditTrail__Integrity__TrustedPublicKeysPem", AppLayout.TemplateAppSettings.Keys);
    }

    [Fact]
    public void The_digest_container_keeps_each_digest_unchangeable_for_digestRetentionDays()
    {
        var policy = AppLayout.ResourcesOfType("Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies").Single();

        Assert.Equal("[format('{0}/{1}/{2}/{3}', variables('storageName'), 'default', variables('digestContainerName'), 'default')]", policy.GetProperty("name").GetString());
        Assert.Equal("audit-digests", Variable("digestContainerName").GetString());
        Assert.Equal("[parameters('digestRetentionDays')]", Properties(policy).GetProperty("immutabilityPeriodSinceCreationInDays").GetString());
        Assert.False(Properties(policy).GetProperty("allowProtectedAppendWrites").GetBoolean());
        // 90 days of events plus 90: a digest outlives every event it covers.
        Assert.Equal(180, AppLayout.Template.GetProperty("parameters").GetProperty("digestRetentionDays").GetProperty("defaultValue").GetInt32());
    }
}
