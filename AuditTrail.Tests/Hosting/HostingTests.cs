using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AuditTrail.Functions.Hosting;
using AuditTrail.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AuditTrail.Tests.Hosting;

public sealed class HostingTests(AzuriteFixture azurite)
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Under_the_Functions_host_the_app_listens_on_loopback_at_the_host_port_with_invocation_endpoints()
    {
        var settings = HostingSettings.Resolve(Config(("FUNCTIONS_CUSTOMHANDLER_PORT", "41234")));

        Assert.Equal(new HostingSettings(HostingMode.CustomHandler, "http://127.0.0.1:41234", true), settings);
    }

    [Fact]
    public void Standalone_the_app_listens_on_7071_without_invocation_endpoints()
    {
        var settings = HostingSettings.Resolve(Config());

        Assert.Equal(new HostingSettings(HostingMode.Standalone, "http://127.0.0.1:7071", false), settings);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("70000")]
    public void A_malformed_host_port_fails_start_up_naming_the_variable(string port)
    {
        var ex = Assert.Throws<InvalidSettingException>(() => HostingSettings.Resolve(Config(("FUNCTIONS_CUSTOMHANDLER_PORT", port))));

        Assert.Contains("FUNCTIONS_CUSTOMHANDLER_PORT", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:05")]
    public void A_non_positive_shutdown_timeout_fails_start_up_naming_the_setting(string value)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["AuditTrail:ShutdownTimeout"] = value;

        var ex = Assert.Throws<InvalidSettingException>(() => builder.AddFunctionsHosting());

        Assert.Contains("AuditTrail:ShutdownTimeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shutdown_timeout_is_the_setting_or_thirty_seconds()
    {
        var builder = WebApplication.CreateBuilder();
        builder.AddFunctionsHosting();
        var configured = WebApplication.CreateBuilder();
        configured.Configuration["AuditTrail:ShutdownTimeout"] = "00:00:45";
        configured.AddFunctionsHosting();

        using var defaults = builder.Services.BuildServiceProvider();
        using var set = configured.Services.BuildServiceProvider();
        Assert.Equal(TimeSpan.FromSeconds(30), defaults.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(45), set.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Fact]
    public async Task Custom_handler_process_answers_the_readiness_probe_and_an_invocation_on_the_host_port()
    {
        var port = FreePort();
        var dll = typeof(HostingSettings).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", $"\"{dll}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["AuditStorage"] = azurite.ConnectionString;
        // Under the host the app starts only with a configured signing key (StartupTests).
        using (var signingKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            start.Environment["AuditTrail__Integrity__SigningKeyPem"] = signingKey.ExportPkcs8PrivateKeyPem();
        }
        start.Environment.Remove("ASPNETCORE_URLS");
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => output.AppendLine(e.Data);
        process.ErrorDataReceived += (_, e) => output.AppendLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            // As the host does: poll "/" until any HTTP answer arrives.
            HttpResponseMessage? ready = null;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (ready is null && DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    ready = await http.GetAsync("/", TestContext.Current.CancellationToken);
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, TestContext.Current.CancellationToken);
                }
            }
            Assert.True(ready is not null, "The handler never answered on the host's port. Output:\n" + output);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("CustomHandler", (await http.GetFromJsonAsync<JsonElement>("/api/status", TestContext.Current.CancellationToken)).GetProperty("mode").GetString());

            var ws = TestEvents.NewWorkspaceId();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/IngestAuditEvents")
            {
                Content = new StringContent(TestEvents.EventHubInvocation([TestEvents.Event(ws).ToJsonString()]), Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("X-Azure-Functions-InvocationId", Guid.NewGuid().ToString());
            request.Headers.UserAgent.ParseAdd("Azure-Functions-Host/4.1037.0");
            var invoked = await http.SendAsync(request, TestContext.Current.CancellationToken);

            Assert.Equal(HttpStatusCode.OK, invoked.StatusCode);
            Assert.Equal(1, (await invoked.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("ReturnValue").GetProperty("accepted").GetInt32());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Standalone_app_does_not_expose_invocation_endpoints_by_default()
    {
        await using var app = new StandaloneFactory(azurite.ConnectionString);
        using var http = app.CreateClient();

        var response = await http.PostAsync("/IngestAuditEvents", new StringContent("{}", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class StandaloneFactory(string storage) : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder) =>
            builder.UseSetting("AuditStorage", storage);
    }
}
