using System.Globalization;
using System.Text;

namespace AuditTrail.Core.Storage;

/// <summary>A table query: OData filter, projection and page size.</summary>
public sealed record TableQuery(string? Filter = null, IReadOnlyList<string>? Select = null, int? PageSize = null);

/// <summary>One page of query results and the continuation to the next, if any.</summary>
public sealed record TablePage(IReadOnlyList<TableEntity> Values, TableContinuation? Continuation);

/// <summary>Table Storage's continuation (NextPartitionKey / NextRowKey); opaque to callers.</summary>
public sealed record TableContinuation(string NextPartitionKey, string? NextRowKey);

/// <summary>
/// Builds OData filter expressions with values quoted as literals, so a value can never change
/// the shape of the expression.
/// </summary>
public static class TableFilter
{
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    public static string Equal(string property, string value) => $"{property} eq {Literal(value)}";

    public static string PartitionEquals(string partitionKey) => Equal("PartitionKey", partitionKey);

    /// <summary>Rows of one partition whose RowKey starts with <paramref name="prefix"/>.</summary>
    public static string RowKeyPrefix(string partitionKey, string prefix)
    {
        if (prefix.Length == 0)
        {
            return PartitionEquals(partitionKey);
        }
        var last = prefix[^1];
        var upper = prefix[..^1] + (char)(last + 1);
        return $"{PartitionEquals(partitionKey)} and RowKey ge {Literal(prefix)} and RowKey lt {Literal(upper)}";
    }

    public static string And(params string[] clauses) =>
        string.Join(" and ", clauses.Where(c => !string.IsNullOrEmpty(c)).Select(c => "(" + c + ")"));

    internal static string DateTimeLiteral(DateTimeOffset value) =>
        "datetime'" + AuditTrail.Core.Events.Iso8601.Format(value) + "'";

    /// <summary>Quotes a key for an entity URL: OData literal quoting, then percent-encoding.</summary>
    internal static string KeyForUrl(string key) => Uri.EscapeDataString(key.Replace("'", "''", StringComparison.Ordinal));

    internal static string EntityPath(string table, string partitionKey, string rowKey) =>
        new StringBuilder(table).Append("(PartitionKey='").Append(KeyForUrl(partitionKey))
            .Append("',RowKey='").Append(KeyForUrl(rowKey)).Append("')").ToString();
}
