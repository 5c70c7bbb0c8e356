using System.Text.Json;
using System.Text.Json.Serialization;

namespace AuditTrail.Core.Forwarding;

/// <summary>
/// One unit of forward work on queue <c>audit-forward</c>: references to stored events of one
/// workspace (their primary rows), never copies, so a message stays far below the queue's 64 KiB
/// and the forwarder sends what the trail holds. Version 1 layout:
/// <c>{"v":1,"workspaceId":"ws","partitions":[{"pk":"…","rows":["…"]}]}</c>.
/// </summary>
public sealed record ForwardMessage(
    [property: JsonPropertyName("v")] int Version,
    [property: JsonPropertyName("workspaceId")] string WorkspaceId,
    [property: JsonPropertyName("partitions")] IReadOnlyList<ForwardPartition> Partitions)
{
    public const int CurrentVersion = 1;

    public int EventCount => Partitions.Sum(p => p.Rows.Count);

    public string ToJson() => JsonSerializer.Serialize(this, ForwardingJsonContext.Default.ForwardMessage);

    /// <summary>The message, or null with the reason when the text is not a version-1 forward message.</summary>
    public static ForwardMessage? TryParse(string text, out string? error)
    {
        try
        {
            var message = JsonSerializer.Deserialize(text, ForwardingJsonContext.Default.ForwardMessage);
            error = message switch
            {
                null => "The message is JSON null.",
                { Version: not CurrentVersion } => $"Unknown message version {message.Version}.",
                { WorkspaceId: null or "" } => "The message names no workspace.",
                { Partitions: null } => "The message has no partitions.",
                _ when message.Partitions.Any(p => p is null || string.IsNullOrEmpty(p.PartitionKey) || p.Rows is null || p.Rows.Any(string.IsNullOrEmpty)) => "A partition entry is incomplete.",
                _ => null,
            };
            return error is null ? message : null;
        }
        catch (JsonException ex)
        {
            error = $"The message is not valid JSON: {ex.Message}";
            return null;
        }
    }
}

public sealed record ForwardPartition(
    [property: JsonPropertyName("pk")] string PartitionKey,
    [property: JsonPropertyName("rows")] IReadOnlyList<string> Rows);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ForwardMessage))]
internal sealed partial class ForwardingJsonContext : JsonSerializerContext;
