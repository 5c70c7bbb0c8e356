using System.Globalization;
using CsvHelper;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>Reads CSV back with a real parser, every field of every row (header included).</summary>
public static class CsvRows
{
    public static List<string[]> Parse(string text)
    {
        using var csv = new CsvReader(new StringReader(text), CultureInfo.InvariantCulture);
        var rows = new List<string[]>();
        while (csv.Read())
        {
            rows.Add(Enumerable.Range(0, csv.Parser.Count).Select(i => csv.GetField(i)!).ToArray());
        }
        return rows;
    }
}
