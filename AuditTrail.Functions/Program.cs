using AuditTrail.Core;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Export;
using AuditTrail.Functions.Forwarding;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using AuditTrail.Functions.Page;
using AuditTrail.Functions.Query;
using AuditTrail.Functions.Retention;

var command = CommandLine.IsCommand(args);
var builder = WebApplication.CreateBuilder(command ? [] : args);
var hosting = builder.AddFunctionsHosting(command);
builder.Services.AddAuditTrailCore(builder.Configuration);
builder.Services.AddAuditTrailHttp();
builder.Services.AddStandaloneTimers(builder.Configuration, command ? HostingMode.CustomHandler : hosting.Mode);
builder.Services.AddStandaloneForwarder(builder.Configuration, command ? HostingMode.CustomHandler : hosting.Mode);
builder.Services.AddStandaloneExporter(builder.Configuration, command ? HostingMode.CustomHandler : hosting.Mode);

var app = builder.Build();
if (command)
{
    return await CommandLine.RunAsync(app.Services, args, Console.Out, Console.Error);
}
app.UseAuditTrailHttp();
app.MapHostEndpoints();
app.MapAuditTrailPage();
app.MapAccessApi();
app.MapIngestionApi();
app.MapQueryApi();
app.MapRetentionApi();
app.MapExportApi();
app.MapForwardingApi();
app.Run();
return 0;

/// <summary>Entry point; public for the test host.</summary>
public partial class Program;
