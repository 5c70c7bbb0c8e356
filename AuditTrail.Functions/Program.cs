using AuditTrail.Core;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
using AuditTrail.Functions.Ingestion;
using AuditTrail.Functions.Query;

var cli = TokensCommand.IsInvocation(args);
var builder = WebApplication.CreateBuilder(cli ? [] : args);
builder.AddFunctionsHosting(cli);
builder.Services.AddAuditTrailCore(builder.Configuration);
builder.Services.AddAuditTrailHttp();

var app = builder.Build();
if (cli)
{
    return await TokensCommand.RunAsync(app.Services, args, Console.Out, Console.Error);
}
app.UseAuditTrailHttp();
app.MapHostEndpoints();
app.MapIngestionApi();
app.MapQueryApi();
app.Run();
return 0;

/// <summary>Entry point; public for the test host.</summary>
public partial class Program;
