using System.Globalization;
using System.Text;
using AuditTrail.Core.Events;
using AuditTrail.Core.Export;
using AuditTrail.Tests.Infrastructure;
using CsvHelper;

namespace AuditTrail.Tests.Export;

public sealed class AuditCsvTests
{
    private static AuditEvent Event(string actorName = "Ada", string resourceName = "Website", string? changes = null, string id = "evt_1") => new(
        id, "ws_1", "Source Disabled", "Source", true, new DateTimeOffset(2026, 11, 23, 9, 30, 0, TimeSpan.Zero),
        new AuditActor("user", "usr_1", actorName, "ada@example.com"), new AuditResource("source", "src_1", resourceName),
        new AuditContext("203.0.113.7", "Mozilla/5.0", "req_1"), changes, "{\"k\":\"v\"}");

    private static string Write(params AuditEvent[] events)
    {
        using var writer = new StringWriter();
        using (var csv = new CsvWriter(writer, AuditCsv.Configuration))
        {
            AuditCsv.WriteHeader(csv);
            foreach (var e in events)
            {
                AuditCsv.WriteRow(csv, e);
            }
        }
        return writer.ToString();
    }

    [Fact]
    public void Header_is_stable_and_documented()
    {
        Assert.StartsWith("\"timestamp\",\"eventType\",\"productArea\",\"actorType\",\"actorId\",\"actorName\",\"actorEmail\",\"resourceType\",\"resourceId\",\"resourceName\",\"ip\",\"eventId\",\"details\",\"source\"\r\n", Write(), StringComparison.Ordinal);
    }

    private static readonly string[] SeparatorCells = ["Web;=HYPERLINK(A1)", "Web,=HYPERLINK(A1)", "a\t=1+1", "a|@SUM(A1)", "x;-2+3;y", "x;+1"];

    [Theory]
    [InlineData(",")]
    [InlineData(";")] // the list separator of many locales
    [InlineData("\t")] // offered by import dialogs
    [InlineData("|")]
    public void A_cell_holding_a_separator_and_a_formula_stays_text_whichever_separator_the_reader_splits_on(string separator)
    {
        foreach (var cell in SeparatorCells)
        {
            var rows = CsvRows.Parse(Write(Event(actorName: cell, resourceName: cell, id: cell)), separator);

            Assert.Equal(2, rows.Count);
            // What a spreadsheet would run: a cell whose first character starts a formula.
            Assert.DoesNotContain(rows.SelectMany(r => r), c => c.Length > 0 && c[0] is '=' or '+' or '-' or '@');
            if (separator == ",")
            {
                Assert.All(rows, row => Assert.Equal(AuditCsv.Header.Count, row.Length));
                var shown = AuditCsv.Neutralize(cell);
                Assert.Equal((shown, shown, shown), (rows[1][5], rows[1][9], rows[1][11]));
            }
        }
    }

    [Theory]
    [InlineData("Web;=HYPERLINK(A1)", "Web;'=HYPERLINK(A1)")]
    [InlineData("x;-2+3;y", "x;'-2+3;y")]
    [InlineData("a;\"=1+1\"", "a;'\"=1+1\"")]
    [InlineData("a; @SUM(A1)", "a;' @SUM(A1)")]
    [InlineData("a\t+1|-1", "a\t'+1|'-1")]
    [InlineData("=1;=2", "'=1;'=2")]
    [InlineData("a;b|c\td", "a;b|c\td")]
    [InlineData("x,=1", "x,=1")] // inside quotes for a comma reader, and not a separator to the others
    public void A_formula_after_another_separator_is_neutralised_like_a_cell_start(string value, string written)
    {
        Assert.Equal(written, AuditCsv.Neutralize(value));
    }

    [Theory]
    [InlineData("Lovelace, Ada")]
    [InlineData("say \"hi\"")]
    [InlineData("two\r\nlines")]
    [InlineData("line\nfeed")]
    [InlineData(" padded ")]
    [InlineData("ünïcødé ☃ 𝄞")]
    public void Awkward_values_round_trip_through_a_CSV_parser(string value)
    {
        var rows = CsvRows.Parse(Write(Event(actorName: value)));

        Assert.Equal(value, rows[1][5]);
        Assert.Equal(14, rows[1].Length);
    }

    [Theory]
    [InlineData("=HYPERLINK(\"http://evil\",\"x\")")]
    [InlineData("+1+1")]
    [InlineData("-2+3")]
    [InlineData("@SUM(A1)")]
    [InlineData("\tleading tab")]
    [InlineData("\rleading return")]
    public void Cells_a_spreadsheet_would_evaluate_are_neutralised(string value)
    {
        var rows = CsvRows.Parse(Write(Event(actorName: value, resourceName: value, id: value)));

        Assert.Equal("'" + value, rows[1][5]);
        Assert.Equal("'" + value, rows[1][9]);
        Assert.Equal("'" + value, rows[1][11]);
    }

    [Fact]
    public void Ordinary_values_are_left_exactly_as_stored()
    {
        Assert.Equal("a-b", AuditCsv.Neutralize("a-b"));
        Assert.Equal("x=1", AuditCsv.Neutralize("x=1"));
        Assert.Equal(string.Empty, AuditCsv.Neutralize(null));
    }

    [Fact]
    public void Details_hold_changes_properties_user_agent_and_request_id_as_JSON()
    {
        var rows = CsvRows.Parse(Write(Event(changes: "[{\"field\":\"enabled\",\"before\":true,\"after\":false}]")));

        Assert.Equal("{\"changes\":[{\"field\":\"enabled\",\"before\":true,\"after\":false}],\"properties\":{\"k\":\"v\"},\"userAgent\":\"Mozilla/5.0\",\"requestId\":\"req_1\"}", rows[1][12]);
        Assert.Equal("2026-11-23T09:30:00.0000000Z", rows[1][0]);
    }

    [Fact]
    public void Output_is_UTF8_without_a_byte_order_mark()
    {
        var bytes = new UTF8Encoding(false).GetBytes(Write(Event()));

        Assert.NotEqual(0xEF, bytes[0]);
    }
}
