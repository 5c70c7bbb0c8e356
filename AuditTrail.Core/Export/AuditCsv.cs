using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AuditTrail.Core.Events;
using CsvHelper;
using CsvHelper.Configuration;

namespace AuditTrail.Core.Export;

/// <summary>
/// The CSV form of the trail: a stable header, RFC 4180 quoting (CRLF line ends, every field
/// quoted, quotes doubled), UTF-8 without a byte-order mark. A cell that a spreadsheet would run
/// as a formula — one starting with <c>= + - @</c>, tab or carriage return, or holding one right
/// after a <c>;</c>, tab or <c>|</c> (see <see cref="Neutralize"/>) — gets a single quote there, so it
/// is shown as text, never executed.
/// </summary>
/// <remarks>
/// Every field is quoted, not only those holding a comma: a spreadsheet splits an unquoted line on
/// its locale's list separator (<c>;</c> in much of Europe), or on whatever a user picks in an
/// import dialog (tab, space, <c>|</c>), so <c>Web;=HYPERLINK(A1)</c> left bare opens as a text
/// cell and a formula cell. For a reader that honours quotes, no separator splits a quoted field,
/// whichever it uses; quoting only fields that hold a known separator would depend on guessing the
/// reader's, and two bytes a field cost less. Quotes alone do not stop a formula (Excel evaluates
/// <c>"=1+1"</c>), nor a lenient reader that splits inside them, hence <see cref="Neutralize"/>.
/// </remarks>
public static class AuditCsv
{
    public static readonly IReadOnlyList<string> Header =
    [
        "timestamp", "eventType", "productArea", "actorType", "actorId", "actorName", "actorEmail",
        "resourceType", "resourceId", "resourceName", "ip", "eventId", "details",
        // Added after the others, so a sheet or script that reads columns by position keeps working.
        "source",
    ];


    public static CsvConfiguration Configuration { get; } = new(CultureInfo.InvariantCulture)
    {
        NewLine = "\r\n",
        // Every field, the header and empty ones too: see the remarks.
        ShouldQuote = _ => true,
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
        csv.WriteField(e.Source ?? string.Empty);
        csv.NextRecord();
    }

    /// <summary>
    /// Prefixes with <c>'</c> a cell a spreadsheet would evaluate, and every part of a cell that a
    /// reader splitting on another separator would (a formula character after <c>;</c>, tab or
    /// <c>|</c>, past any quotes or spaces); leaves every other cell exactly as stored.
    /// </summary>
    /// <remarks>
    /// Quoting is not enough for a reader that splits this comma-separated file on <c>;</c>: to it
    /// <c>"a","Web;=1+1;x"</c> is malformed, and lenient readers (spreadsheets among them) go on after
    /// the first closing quote and split at the <c>;</c> inside the field, giving a cell <c>=1+1</c>.
    /// So the text after each such separator is neutralised as a cell's start is.
    /// </remarks>
    public static string Neutralize(string? cell)
    {
        if (string.IsNullOrEmpty(cell))
        {
            return string.Empty;
        }
        var head = StartsFormula(cell[0]) ? "'" : string.Empty;
        if (cell.AsSpan().IndexOfAny(OtherSeparators) < 0)
        {
            return head + cell;
        }
        var text = new System.Text.StringBuilder(head, cell.Length + 8);
        for (var i = 0; i < cell.Length; i++)
        {
            text.Append(cell[i]);
            if (OtherSeparators.Contains(cell[i]) && PartStartsFormula(cell, i + 1))
            {
                text.Append('\'');
            }
        }
        return text.ToString();
    }

    /// <summary>What readers of a comma-separated file split on instead: a locale's list separator, or an import dialog's choice.</summary>
    private static readonly System.Buffers.SearchValues<char> OtherSeparators = System.Buffers.SearchValues.Create(";\t|");

    private static bool StartsFormula(char c) => c is '=' or '+' or '-' or '@' or '\t' or '\r';

    private static bool PartStartsFormula(string cell, int start)
    {
        var i = start;
        while (i < cell.Length && cell[i] is '"' or ' ')
        {
            i++;
        }
        return i < cell.Length && StartsFormula(cell[i]);
    }

    /// <summary>What the other columns do not hold, as one JSON object: changes, properties, user agent, request id.</summary>
    public static string Details(AuditEvent e)
    {
        if (e.Changes is null && e.Properties is null && e.Context?.UserAgent is null && e.Context?.RequestId is null)
        {
            return string.Empty;
        }
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, AuditTrail.Core.Events.JsonDefaults.Relaxed))
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
