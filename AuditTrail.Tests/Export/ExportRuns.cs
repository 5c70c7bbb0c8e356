using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Export;
using AuditTrail.Functions.Export;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Export;

/// <summary>
/// The classes whose tests run exports on the shared Azurite's one <c>audit-export</c> queue: they
/// run one after another, so a test's poller never takes up another test's export (which would
/// then run with the other app's clock and storage path).
/// </summary>
[CollectionDefinition(Name)]
public sealed class ExportQueueGroup
{
    public const string Name = "audit-export queue";
}

/// <summary>Runs exports as standalone mode does, with the app's own poller, one poll at a time.</summary>
public static class ExportRuns
{
    /// <summary>
    /// Polls <c>audit-export</c> until the export is final (bounded, so a bug fails rather than
    /// hangs); <paramref name="afterEachPoll"/> sees the status after each poll that took a message.
    /// </summary>
    public static async Task<ExportInfo> CompleteAsync(IServiceProvider services, string workspaceId, string exportId, CancellationToken ct, Func<ExportInfo, Task>? afterEachPoll = null)
    {
        var poller = services.GetRequiredService<AuditTrail.Functions.FunctionsHost.StandaloneQueuePoller<ExportFunction>>();
        var exports = services.GetRequiredService<ExportService>();
        for (var i = 0; i < 1000; i++)
        {
            var taken = await poller.PollOnceAsync(ct);
            var info = await exports.GetAsync(workspaceId, exportId, ct) ?? throw new InvalidOperationException($"Export {exportId} has no status row.");
            if (taken > 0 && afterEachPoll is not null)
            {
                await afterEachPoll(info);
            }
            if (ExportStatus.IsFinal(info.Status))
            {
                return info;
            }
            if (taken == 0)
            {
                await Task.Delay(50, ct);
            }
        }
        throw new InvalidOperationException($"Export {exportId} did not finish within 1000 polls.");
    }

    /// <summary>Invokes the queue function as the Functions host does: the decoded message text, JSON-encoded once more as a string value.</summary>
    public static async Task<HttpResponseMessage> InvokeQueueFunctionAsync(HttpClient http, string messageText, int dequeueCount, CancellationToken ct)
    {
        var payload = new JsonObject
        {
            ["Data"] = new JsonObject { ["message"] = JsonSerializer.Serialize(messageText) },
            ["Metadata"] = new JsonObject
            {
                ["DequeueCount"] = dequeueCount,
                ["Id"] = JsonSerializer.Serialize(Guid.NewGuid().ToString()),
                ["sys"] = new JsonObject { ["MethodName"] = ExportApi.QueueFunction },
            },
        };
        return await http.PostAsync(new Uri("/" + ExportApi.QueueFunction, UriKind.Relative),
            new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"), ct);
    }

    public static async Task<string> LogOf(HttpResponseMessage response, CancellationToken ct) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("Logs")[0].GetString()!;
}
