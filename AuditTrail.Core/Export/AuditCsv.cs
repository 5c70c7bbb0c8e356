using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AuditTrail.Core.Events;
using CsvHelper;
using CsvHelper.Configuration;

namespace AuditTrail.Core.Export;

/// <summary>
/// The CSV form of the trail: a stable header, RFC 4180 quoting (CRLF line ends, fields with a
/// comma, quote or line break quoted, quotes doubled), UTF-8 without a byte-order mark. A cell
/// that a spreadsheet would run as a formula — one starting with <c>= + - @</c>, tab or carriage
/// return — is prefixed with a single quote, so it is shown as text, never executed.
/// </summary>
public static class AuditCsv
{
    public static readonly IReadOnlyList<string> Header =
    [
        "timestamp", "eventType", "productArea", "actorType", "actorId", "actorName", "actorEmail",
        "resourceType", "resourceId", "resourceName", "ip", "eventId", "details",
    ];


    public static CsvConfiguration Configuration { get; } = new(CultureInfo.InvariantCulture)
    {
        NewLine = "\r\n",
        // CsvHelper's default only looks for the configured NewLine ("\r\n"), so a lone "\n" or
        // "\r" inside a value would go out unquoted and break the row. Quote on any of them.
        ShouldQuote = args => args.Field is { Length: > 0 } f
                              && (f.AsSpan().IndexOfAny(",\"\r\n") >= 0 || char.IsWhiteSpace(f[0]) || char.IsWhiteSpace(f[^1])),
        // Injection handling is done here (Neutralize), once, so the rule is visible and tested.
        InjectionOptions = InjectionOptions.None,
    };

    public static void WriteHeader(CsvWriter csv)
    {
        foreach (var name in Header)
        {
            csv.WriteField(name);
        }
        csv.NextRecord();
    }

    public static void WriteRow(CsvWriter csv, AuditEvent e)
    {
        csv.WriteField(Iso8601.Format(e.Timestamp));
        csv.WriteField(Neutralize(e.Type));
        csv.WriteField(Neutralize(e.ProductArea));
        csv.WriteField(Neutralize(e.Actor.Type));
        csv.WriteField(Neutralize(e.Actor.Id));
        csv.WriteField(Neutralize(e.Actor.Name));
        csv.WriteField(Neutralize(e.Actor.Email));
        csv.WriteField(Neutralize(e.Resource.Type));
        csv.WriteField(Neutralize(e.Resource.Id));
        csv.WriteField(Neutralize(e.Resource.Name));
        csv.WriteField(Neutralize(e.Context?.Ip));
        csv.WriteField(Neutralize(e.Id));
        csv.WriteField(Neutralize(Details(e)));
        csv.NextRecord();
    }

    /// <summary>Prefixes a cell a spreadsheet would evaluate with <c>'</c>; leaves every other cell exactly as stored.</summary>
    public static string Neutralize(string? cell) =>
        string.IsNullOrEmpty(cell) ? string.Empty
        : cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + cell
        : cell;

    /// <summary>What the other columns do not hold, as one JSON object: changes, properties, user agent, request id.</summary>
    public static string Details(AuditEvent e)
    {
        if (e.Changes is null && e.Properties is null && e.Context?.UserAgent is null && e.Context?.RequestId is null)
        {
            return string.Empty;
        }
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, AuditTrail.Core.JsonDefaults.Relaxed))
        {
            writer.WriteStartObject();
            if (e.Changes is not null)
            {
                AuditEventJson.WriteRaw(writer, "changes", e.Changes);
            }
            if (e.Properties is not null)
            {
                AuditEventJson.WriteRaw(writer, "properties", e.Properties);
            }
            if (e.Context?.UserAgent is { } ua)
            {
                writer.WriteString("userAgent", ua);
            }
            if (e.Context?.RequestId is { } rid)
            {
                writer.WriteString("requestId", rid);
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
