using System.Text.Json;

namespace AuditTrail.Functions.FunctionsHost;

/// <summary>What every invocation payload of the Functions host has in common: the trigger's value in <c>Data</c>, lenient property names, the invocation id.</summary>
internal static class InvocationPayload
{
    /// <summary>
    /// The trigger binding's value in <c>Data</c>; null on success, else why there is none. A single
    /// binding under another name is still the trigger's.
    /// </summary>
    internal static string? TriggerValue(JsonElement root, string bindingName, out JsonElement value)
    {
        value = default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "The invocation payload is not a JSON object.";
        }
        if (!TryGetProperty(root, "Data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            return "The invocation payload has no 'Data' object.";
        }
        if (TryGetProperty(data, bindingName, out value))
        {
            return null;
        }
        var properties = data.EnumerateObject().ToList();
        if (properties.Count != 1)
        {
            return $"The invocation payload's 'Data' has no '{bindingName}' binding.";
        }
        value = properties[0].Value;
        return null;
    }

    internal static bool LooksLike(string? text, char first) => text is not null && text.AsSpan().TrimStart().StartsWith(first.ToString(), StringComparison.Ordinal);

    internal static bool TryGetProperty(JsonElement obj, string name, out JsonElement value)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                value = p.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    internal static string Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Number => e.GetRawText(),
        _ => e.GetRawText(),
    };

    internal static string InvocationId(HttpRequest request) =>
        request.Headers.TryGetValue("X-Azure-Functions-InvocationId", out var id) && !string.IsNullOrEmpty(id) ? id.ToString() : request.HttpContext.TraceIdentifier;
}
