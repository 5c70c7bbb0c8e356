using System.Text.Json;
using System.Text.Json.Serialization;
using AuditTrail.Core.Events;

namespace AuditTrail.Core.Export;

/// <summary>
/// Work on queue <c>audit-export</c>: which export to run. Everything else (filters, progress) is
/// in the export's status row, so a message can be delivered again, or sent again to hand over the
/// rest of a long export, without saying anything new.
/// </summary>
public sealed record ExportMessage(
    [property: JsonPropertyName("workspaceId")] string WorkspaceId,
    [property: JsonPropertyName("exportId")] string ExportId)
{
    public string ToJson() => JsonSerializer.Serialize(this, ExportMessageJson.Default.ExportMessage);

    /// <summary>A message naming a workspace and an export id of the forms the app issues; null for anything else.</summary>
    public static ExportMessage? TryParse(string text)
    {
        try
        {
            var m = JsonSerializer.Deserialize(text, ExportMessageJson.Default.ExportMessage);
            return m is not null && WorkspaceIds.IsValid(m.WorkspaceId) && IsExportId(m.ExportId) ? m : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>32 lower-case hex digits, as <see cref="ExportService"/> issues them.</summary>
    public static bool IsExportId(string? id) => id is { Length: 32 } && id.All(char.IsAsciiHexDigitLower);
}

[JsonSerializable(typeof(ExportMessage))]
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
internal sealed partial class ExportMessageJson : JsonSerializerContext;
