using System.Globalization;
using CsvHelper;
using CsvHelper.Configuration;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>Reads CSV back with a real parser, every field of every row (header included).</summary>
public static class CsvRows
{
    /// <param name="delimiter">
    /// The list separator the reader splits on, as a spreadsheet's locale or import dialog picks it.
    /// Splitting a comma-separated file on another one meets text after a closing quote
    /// (<c>"a","b"</c>); that is read on into the cell, as spreadsheets do, not refused.
    /// </param>
    public static List<string[]> Parse(string text, string delimiter = ",")
    {
        var configuration = new CsvConfiguration(CultureInfo.InvariantCulture) { Delimiter = delimiter };
        if (delimiter != ",")
        {
            configuration.BadDataFound = null;
        }
        using var csv = new CsvReader(new StringReader(text), configuration);
        var rows = new List<string[]>();
        while (csv.Read())
        {
            rows.Add(Enumerable.Range(0, csv.Parser.Count).Select(i => csv.GetField(i)!).ToArray());
        }
        return rows;
    }
}
