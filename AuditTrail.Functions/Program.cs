using AuditTrail.Core;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;

var builder = WebApplication.CreateBuilder(args);
builder.AddFunctionsHosting();
builder.Services.AddAuditTrailCore(builder.Configuration);
builder.Services.AddAuditTrailHttp();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapHostEndpoints();
app.MapIngestionApi();
app.Run();

/// <summary>Entry point; public for the test host.</summary>
public partial class Program;
