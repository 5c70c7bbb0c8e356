using System.Text.RegularExpressions;

namespace AuditTrail.Tests.Deployment;

/// <summary>
/// Each table's row layout is spelled in its owner alone (docs/architecture.md, "Storage"): a
/// column name written as a literal anywhere else in AuditTrail.Core — a property read or write,
/// an OData filter on a column, a projection — would let a feature depend on a layout it does not
/// own, and a layout change then has to find it.
/// </summary>
public sealed partial class TableOwnerTests
{
    /// <summary>The files that own a table's layout (paths under AuditTrail.Core), and the table.</summary>
    private static readonly Dictionary<string, string> Owners = new(StringComparer.Ordinal)
    {
        ["Trail/EventRows.cs"] = "AuditEvents (the layout)",
        ["Trail/EventRow.cs"] = "AuditEvents (a row as written)",
        ["Trail/EventTable.cs"] = "AuditEvents (reads, scans, deletes)",
        ["Trail/EventClaims.cs"] = "AuditEventIds",
        ["Trail/WorkspaceDays.cs"] = "AuditPartitions and AuditWorkspaceDays",
        ["Trail/TrailSecrets.cs"] = "AuditTrailKeys",
        ["Access/AccessTokens.cs"] = "AccessTokens",
        ["Forwarding/ForwardingSettingsStore.cs"] = "AuditForwarding (settings rows)",
        ["Forwarding/ForwardingDeadLetters.cs"] = "AuditForwarding (dead-letter rows)",
        ["Export/ExportRecord.cs"] = "AuditExports",
        ["Integrity/LedgerEntries.cs"] = "AuditLedger",
        ["Integrity/DigestRecords.cs"] = "AuditDigests",
    };

    [Fact]
    public void No_table_column_name_is_spelled_outside_its_tables_owner()
    {
        var core = Path.Combine(AppLayout.Root, "AuditTrail.Core");
        var found = new List<string>();
        foreach (var file in Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(core, file).Replace('\\', '/');
            if (relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal) || Owners.ContainsKey(relative))
            {
                continue;
            }
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (ColumnLiteral(lines[i]) is { } column)
                {
                    found.Add($"{relative}:{i + 1}: {column}");
                }
            }
        }
        Assert.True(found.Count == 0, "Column names outside their table's owner (call the owner instead):\n" + string.Join('\n', found));
    }

    [Theory]
    [InlineData("var x = row.GetString(\"Door\");", "Door")]
    [InlineData("    [\"Ledger\"] = partition,", "Ledger")]
    [InlineData("entity[\"RevokedAt\"] = at;", "RevokedAt")]
    [InlineData("TableClient.CreateQueryFilter($\"PartitionKey eq {ws} and ReceivedAt lt {cutoff}\")", "ReceivedAt")]
    [InlineData("QueryAsync<TableEntity>(filter, select: [\"RowKey\", \"EventId\"])", "EventId")]
    [InlineData("var row = TableRows.Create(pk, rk,", "TableRows.Create")]
    public void The_scan_finds_each_way_of_spelling_a_column(string line, string column) =>
        Assert.Equal(column, ColumnLiteral(line));

    [Theory]
    [InlineData("TableClient.CreateQueryFilter($\"PartitionKey eq {ws} and RowKey ge {first}\")")]
    [InlineData("select: [\"RowKey\"]")]
    [InlineData("options.ConnectionString = section[\"ConnectionString\"];")]
    [InlineData("[\"type\"] = \"system\",")]
    [InlineData("select: [nameof(EventClaim.EventId)]")]
    public void Keys_json_fields_and_settings_are_not_columns(string line) =>
        Assert.Null(ColumnLiteral(line));

    /// <summary>The first column name the line spells as a literal, or null. Keys (PartitionKey, RowKey) are every table's.</summary>
    private static string? ColumnLiteral(string line)
    {
        foreach (var pattern in (Regex[])[Read(), Assigned(), Filtered(), Built()])
        {
            foreach (Match m in pattern.Matches(line))
            {
                if (!IsKey(m.Groups["name"].Value))
                {
                    return m.Groups["name"].Value;
                }
            }
        }
        foreach (Match select in Selected().Matches(line))
        {
            foreach (Match name in Quoted().Matches(select.Groups["list"].Value))
            {
                if (!IsKey(name.Groups["name"].Value))
                {
                    return name.Groups["name"].Value;
                }
            }
        }
        return null;
    }

    private static bool IsKey(string name) => name is "PartitionKey" or "RowKey" or "Timestamp";

    [GeneratedRegex("""\.Get(?:String|Int32|Int64|Boolean|DateTimeOffset|DateTime|Binary|BinaryData|Double|Guid)\(\s*"(?<name>[A-Za-z]\w*)"\s*\)""")]
    private static partial Regex Read();

    // An entity's property set by name (PascalCase: JSON fields, which are camelCase, are not columns).
    [GeneratedRegex("""\[\s*"(?<name>[A-Z]\w*)"\s*\]\s*=(?!=)""")]
    private static partial Regex Assigned();

    [GeneratedRegex("""\b(?<name>[A-Z]\w*) (?:eq|ne|lt|le|gt|ge) \{""")]
    private static partial Regex Filtered();

    // An entity built from (name, value) pairs: the names are the layout.
    [GeneratedRegex("""\b(?<name>TableRows\.Create)\(""")]
    private static partial Regex Built();

    [GeneratedRegex("""select:\s*\[(?<list>[^\]]*)\]""")]
    private static partial Regex Selected();

    [GeneratedRegex(@"""(?<name>\w+)""")]
    private static partial Regex Quoted();
}
