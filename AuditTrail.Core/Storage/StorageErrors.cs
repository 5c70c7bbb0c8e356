using System.Text.Json;
using System.Xml.Linq;

namespace AuditTrail.Core.Storage;

/// <summary>Turns an error response into a <see cref="StorageRequestException"/> with status and error code.</summary>
internal static class StorageErrors
{
    public static async Task<StorageRequestException> FromResponseAsync(HttpResponseMessage response, string operation, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var body = response.Content is null ? string.Empty : await response.Content.ReadAsStringAsync(cancellationToken);
        var (code, message) = Parse(body);
        if (response.Headers.TryGetValues("x-ms-error-code", out var headerCodes))
        {
            code = headerCodes.FirstOrDefault() ?? code;
        }
        return new StorageRequestException(status, code,
            $"{operation} failed with {status} {code ?? response.ReasonPhrase}{(message is null ? string.Empty : ": " + message)}");
    }

    /// <summary>Reads an error code and message from a Table (JSON) or Blob/Queue (XML) error body.</summary>
    public static (string? Code, string? Message) Parse(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null);
        }
        var trimmed = body.TrimStart();
        try
        {
            if (trimmed.StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(trimmed);
                if (doc.RootElement.TryGetProperty("odata.error", out var error))
                {
                    var code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
                    var message = error.TryGetProperty("message", out var m)
                        ? m.ValueKind == JsonValueKind.Object && m.TryGetProperty("value", out var v) ? v.GetString() : m.ToString()
                        : null;
                    return (code, FirstLine(message));
                }
            }
            else if (trimmed.StartsWith('<'))
            {
                var xml = XDocument.Parse(trimmed);
                return (xml.Root?.Element("Code")?.Value, FirstLine(xml.Root?.Element("Message")?.Value));
            }
        }
        catch (Exception ex) when (ex is JsonException or System.Xml.XmlException)
        {
            // Not a service error body (a proxy's page, say): report the status alone.
        }
        return (null, null);
    }

    private static string? FirstLine(string? text) => text?.Split('\n')[0].Trim();
}
