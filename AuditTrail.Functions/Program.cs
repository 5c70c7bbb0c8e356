using AuditTrail.Core;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Export;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.FunctionsHost;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using AuditTrail.Functions.Integrity;
using AuditTrail.Functions.Page;
using AuditTrail.Functions.Query;
using AuditTrail.Functions.Schemas;
using Microsoft.Extensions.Options;

if (CommandLine.IsHelp(args))
{
    Console.Out.WriteLine(CommandLine.Usage);
    return 0;
}
if (CommandLine.CommandHelp(args) is { } commandUsage)
{
    Console.Out.WriteLine(commandUsage.Trim());
    return 0;
}
if (CommandLine.UnknownCommand(args) is { } unknown)
{
    Console.Error.WriteLine($"error: unknown command '{unknown}'.");
    Console.Error.WriteLine(CommandLine.Usage);
    return 2;
}

var command = CommandLine.IsCommand(args);
WebApplication app;
try
{
    var builder = WebApplication.CreateBuilder(command ? [] : args);
    var hosting = builder.AddFunctionsHosting(command);
    builder.Services.AddAuditTrailCore(builder.Configuration);
    if (hosting.Mode == HostingMode.CustomHandler)
    {
        builder.Services.RequireConfiguredSigningKey();
    }
    builder.AddAuditTrailTelemetry();
    builder.Services.AddAuditTrailHttp();
    builder.Services.AddStandaloneTriggers(builder.Configuration, command ? HostingMode.CustomHandler : hosting.Mode);
    app = builder.Build();
    // The checks the host would run at start, run here first: a bad setting is the operator's to
    // fix, so it gets one line naming it, not the host's start-up failure log and stack trace.
    app.Services.GetService<IStartupValidator>()?.Validate();
}
catch (Exception ex) when (StartupFailure.Describe(ex) is { } line)
{
    Console.Error.WriteLine(line);
    return 1;
}

if (command)
{
    return await CommandLine.RunAsync(app.Services, args, Console.Out, Console.Error);
}
app.UseAuditTrailHttp();
app.MapHostEndpoints();
app.MapHostInvocations();
app.MapAuditTrailPage();
app.MapAccessApi();
app.MapIngestionApi();
app.MapQueryApi();
app.MapExportApi();
app.MapForwardingApi();
app.MapIntegrityApi();
app.MapSchemaApi();
app.Run();
return 0;

/// <summary>Entry point; public for the test host.</summary>
public partial class Program;
