using System.Text.Json;
using System.Text.Json.Nodes;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>Builds audit events as producers send them. Every test takes its own workspace id.</summary>
public static class TestEvents
{
    public static string NewWorkspaceId() => "ws_" + Guid.NewGuid().ToString("N")[..16];

    public static JsonObject Event(
        string workspaceId,
        string? id = null,
        string type = "Source Disabled",
        DateTimeOffset? timestamp = null,
        string actorType = "user",
        string actorId = "usr_1",
        string resourceType = "source",
        string resourceId = "src_1")
    {
        return new JsonObject
        {
            ["id"] = id ?? "evt_" + Guid.NewGuid().ToString("N"),
            ["workspaceId"] = workspaceId,
            ["type"] = type,
            ["timestamp"] = (timestamp ?? DateTimeOffset.UtcNow.AddMinutes(-1)).ToString("O"),
            ["actor"] = new JsonObject { ["type"] = actorType, ["id"] = actorId, ["name"] = "Ada Lovelace", ["email"] = "ada@example.com" },
            ["resource"] = new JsonObject { ["type"] = resourceType, ["id"] = resourceId, ["name"] = "Website" },
            ["context"] = new JsonObject { ["ip"] = "203.0.113.7", ["userAgent"] = "Mozilla/5.0", ["requestId"] = "req_1" },
            ["changes"] = new JsonArray(new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false }),
            ["properties"] = new JsonObject { ["reason"] = "maintenance" },
        };
    }

    /// <summary>A JSON array body as most producers write it: non-ASCII as UTF-8, not \uXXXX escapes.</summary>
    public static string Array(params JsonNode[] events) =>
        new JsonArray(events.Select(e => e.DeepClone()).ToArray()).ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>
    /// The Functions host's invocation payload for an Event Hubs trigger with cardinality many and
    /// dataType string: the string[] of bodies arrives as JSON text, as do the *Array metadata.
    /// </summary>
    public static string EventHubInvocation(IReadOnlyList<string> bodies, string partitionId = "0", long firstSequenceNumber = 100)
    {
        var bodiesJson = JsonSerializer.Serialize(bodies);
        var sequenceNumbers = JsonSerializer.Serialize(Enumerable.Range(0, bodies.Count).Select(i => firstSequenceNumber + i));
        var enqueued = JsonSerializer.Serialize(bodies.Select(_ => DateTime.UtcNow));
        var payload = new JsonObject
        {
            ["Data"] = new JsonObject { ["events"] = bodiesJson },
            ["Metadata"] = new JsonObject
            {
                ["PartitionContext"] = new JsonObject { ["EventHubName"] = "audit-events", ["ConsumerGroup"] = "$Default", ["PartitionId"] = partitionId },
                ["SequenceNumberArray"] = sequenceNumbers,
                ["EnqueuedTimeUtcArray"] = enqueued,
                ["sys"] = new JsonObject { ["MethodName"] = "IngestAuditEvents", ["UtcNow"] = DateTime.UtcNow.ToString("O"), ["RandGuid"] = Guid.NewGuid().ToString() },
            },
        };
        return payload.ToJsonString();
    }
}
