// Compiled by KiotaClientTests against the client Kiota generates from the served OpenAPI
// document (not part of the test project): ingests, lists a page, follows nextLink, reads a problem.
using System.Net.Http.Headers;
using AuditTrail.Generated;
using AuditTrail.Generated.Models;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

var (baseUrl, workspaceId, ingestToken, ownerToken) = (args[0], args[1], args[2], args[3]);

AuditTrailApiClient Client(string token)
{
    var http = KiotaClientFactory.Create();
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    return new AuditTrailApiClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = baseUrl });
}

var events = Enumerable.Range(0, 3).Select(i => new AuditEventInput
{
    Id = $"evt_kiota_{i}",
    Type = "Source Modified",
    Timestamp = DateTimeOffset.UtcNow.AddMinutes(-10 + i).ToString("O"),
    Actor = new AuditActor { Type = "user", Id = "usr_kiota", Name = "Ada Lovelace" },
    Resource = new AuditResource { Type = "source", Id = "src_" + i },
    Changes = [new AuditChange { Field = "enabled" }],
}).ToList();
var ingested = await Client(ingestToken).Api.Workspaces[workspaceId].AuditEvents.PostAsync(events);
Console.WriteLine($"accepted {ingested!.Accepted} rejected {ingested.RejectedCount}");

var owner = Client(ownerToken);
var page = await owner.Api.Workspaces[workspaceId].AuditEvents.GetAsync(c =>
{
    c.QueryParameters.Limit = 2;
    c.QueryParameters.ActorId = "usr_kiota";
});
Console.WriteLine("page " + string.Join(",", page!.Value!.Select(e => $"{e.Id}:{e.ProductArea}")));
var next = await owner.Api.Workspaces[workspaceId].AuditEvents.WithUrl(new Uri(new Uri(baseUrl), page.NextLink!).ToString()).GetAsync();
Console.WriteLine("next " + string.Join(",", next!.Value!.Select(e => e.Id)) + " nextLink " + (next.NextLink ?? "none"));

try
{
    await owner.Api.Workspaces[workspaceId].AuditEvents.GetAsync(c => c.QueryParameters.Limit = 5000);
    Console.WriteLine("problem none");
}
catch (ProblemDetails problem)
{
    Console.WriteLine($"problem {problem.Status} {problem.Code} {problem.Parameter}");
}
