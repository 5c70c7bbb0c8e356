using System.Diagnostics;
using AuditTrail.Functions.Hosting;

namespace AuditTrail.Tests.Hosting;

/// <summary>The built app run as a process, as the Functions host or an operator starts it.</summary>
public sealed class StartupTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Run(int ExitCode, string Output, string Error)
    {
        public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Starts the app with these arguments and settings (every other trail setting cleared) and waits, bounded, for it to exit.</summary>
    private static async Task<Run> RunAppAsync(string[] args, params (string Name, string Value)[] environment)
    {
        var dll = typeof(HostingSettings).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("AuditStorage", StringComparison.Ordinal) || k.StartsWith("AuditTrail", StringComparison.Ordinal)
                     || k is "FUNCTIONS_CUSTOMHANDLER_PORT" or "ASPNETCORE_URLS").ToList())
        {
            start.Environment.Remove(name);
        }
        // Nothing here may start a server on the default port; if one does, it listens where no test does.
        start.Environment["AuditTrail__Url"] = "http://127.0.0.1:0";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(Ct);
            Assert.Fail($"The app did not exit (it started a server?). Output:\n{await output}\n{await error}");
        }
        return new Run(process.ExitCode, await output, await error);
    }

    [Theory]
    [InlineData("AuditStorage", "not a connection string", "'AuditStorage'")]
    [InlineData("AuditStorage__Retry__MaxRetries", "50", "'AuditStorage:Retry'")]
    [InlineData("AuditTrail__Query__MaxParallelDays", "0", "'AuditTrail:Query:MaxParallelDays'")]
    [InlineData("AuditTrail__Query__MaxParallelDays", "many", "'AuditTrail:Query:MaxParallelDays'")]
    [InlineData("AuditTrail__Forwarding__RequestTimeout", "soon", "'AuditTrail:Forwarding:RequestTimeout'")]
    [InlineData("AuditTrail__Forwarding__MaxDequeueCount", "0", "'AuditTrail:Forwarding:MaxDequeueCount'")]
    [InlineData("AuditTrail__Forwarding__DefaultEndpoint", "http://api.example.com", "'AuditTrail:Forwarding:DefaultEndpoint'")]
    [InlineData("AuditTrail__ShutdownTimeout", "00:00:00", "'AuditTrail:ShutdownTimeout'")]
    [InlineData("AuditTrail__Integrity__SealDelay", "00:00:10", "'AuditTrail:Integrity:SealDelay'")]
    [InlineData("AuditTrail__Integrity__SigningKeyPem", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----", "'AuditTrail:Integrity'")]
    [InlineData("AuditTrail__Integrity__SigningKeySecretUri", "http://vault.example/secrets/k", "'AuditTrail:Integrity'")]
    [InlineData("AuditTrail__Timers", "sometimes", "'AuditTrail:Timers'")]
    [InlineData("AuditTrail__RateLimits__PerAddressBurst", "0", "'AuditTrail:RateLimits:PerAddressBurst'")]
    [InlineData("AuditTrail__Url", "not a url", "'AuditTrail:Url'")]
    [InlineData("FUNCTIONS_CUSTOMHANDLER_PORT", "http", "'FUNCTIONS_CUSTOMHANDLER_PORT'")]
    public async Task A_bad_setting_stops_the_app_with_one_line_naming_it_and_exit_code_1(string name, string value, string named)
    {
        var run = await RunAppAsync([], (name, value));

        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("Audit Trail cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output + run.Error, StringComparison.Ordinal); // no stack trace
        Assert.DoesNotContain("Exception", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AuditTrail__Forwarding__AllowHttpEndpoints", "true", "'AuditTrail:Forwarding:AllowHttpEndpoints'", "set it to false")]
    [InlineData("AuditTrail__Forwarding__AllowHttpEndpoints", "True", "'AuditTrail:Forwarding:AllowHttpEndpoints'", "set it to false")]
    [InlineData("AuditTrail__Forwarding__DefaultEndpoint", "https://api.example.com:8443", "'AuditTrail:Forwarding:DefaultEndpoint'", "leave the port out")]
    public async Task Under_the_Functions_host_a_setting_that_loosens_the_forwarding_guard_stops_the_app_with_one_line_naming_it(string name, string value, string named, string advice)
    {
        // A free port, so that if the setting were taken the app would listen where nothing else does (and the run would time out).
        using var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        free.Start();
        var port = ((System.Net.IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();

        var run = await RunAppAsync([], ("FUNCTIONS_CUSTOMHANDLER_PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            (name, value));

        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("Audit Trail cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.Contains(advice, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sample_settings_for_the_Functions_host_leave_the_forwarding_guard_on()
    {
        // local.settings.sample.json is what `func start` runs with: a value the host refuses would stop it.
        Assert.Equal("false", Deployment.AppLayout.SampleSettings["AuditTrail__Forwarding__AllowHttpEndpoints"], ignoreCase: true);
    }

    [Fact]
    public async Task Under_the_Functions_host_the_app_refuses_to_start_without_a_configured_signing_key()
    {
        // Standalone it would generate one into the storage it protects; under the host it must be given one.
        var run = await RunAppAsync([], ("FUNCTIONS_CUSTOMHANDLER_PORT", "47123"), ("AuditStorage", "UseDevelopmentStorage=true"));

        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("Audit Trail cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains("'AuditTrail:Integrity:SigningKeySecretUri'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_with_a_bad_setting_stops_the_same_way()
    {
        var run = await RunAppAsync(["tokens", "list", "--workspace", "ws_startup"], ("AuditStorage", "not a connection string"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("'AuditStorage'", Assert.Single(run.ErrorLines), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public async Task Help_prints_usage_and_exits_without_starting_the_server(string flag)
    {
        // Storage unusable on purpose: help needs none.
        var run = await RunAppAsync([flag], ("AuditStorage", "not a connection string"));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("usage:", run.Output, StringComparison.Ordinal);
        Assert.Contains("tokens create --workspace", run.Output, StringComparison.Ordinal);
        Assert.Contains("retention purge", run.Output, StringComparison.Ordinal);
        Assert.Contains("forwarding replay-poison", run.Output, StringComparison.Ordinal);
        Assert.Equal("", run.Error);
    }

    [Theory]
    [InlineData("integrity", "--help", "integrity verify --workspace")]
    [InlineData("integrity", "-h", "integrity seal")]
    [InlineData("tokens", "--help", "tokens create --workspace")]
    [InlineData("retention", "help", "retention purge")]
    [InlineData("forwarding", "--help", "forwarding replay-poison")]
    [InlineData("seed-demo", "--help", "seed-demo")]
    public async Task Help_on_a_command_prints_its_usage_and_exits_0(string command, string flag, string expected)
    {
        // Storage unusable on purpose: help needs none.
        var run = await RunAppAsync([command, flag], ("AuditStorage", "not a connection string"));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(expected, run.Output, StringComparison.Ordinal);
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task A_mistyped_command_prints_usage_and_exits_2()
    {
        var run = await RunAppAsync(["token", "list"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("unknown command 'token'", run.Error, StringComparison.Ordinal);
        Assert.Contains("usage:", run.Error, StringComparison.Ordinal);
    }
}
