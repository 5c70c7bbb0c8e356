using System.Text.Json;
using AuditTrail.Core.Events;
using Azure.Data.Tables;

namespace AuditTrail.Core.Storage;

/// <summary>An entity that knows the size of its JSON, so a transaction is measured without writing it twice.</summary>
public interface IMeasuredEntity
{
    /// <summary>Bytes of the entity's JSON as the table client writes it, keys included.</summary>
    int JsonBytes { get; }
}

/// <summary>
/// The rules of an entity-group transaction that Azure enforces and the table client does not
/// check: one PartitionKey, at most 100 actions, each row once, at most 4 MiB. Azurite accepts a
/// transaction across partitions and commits it, so without this guard a test would pass that
/// Azure refuses; over 100 actions the client cannot even read Azurite's answer.
/// </summary>
public static class TableTransactions
{
    public const int MaxActions = 100;
    public const int MaxBytes = 4 * 1024 * 1024;

    /// <summary>
    /// What one action adds to the batch body besides its entity JSON, the table's address and the
    /// escaped keys: the change-set part's headers and the inner request's method, query and
    /// headers, about 400 bytes as the client writes them (an If-Match adds an ETag's length).
    /// </summary>
    private const int ActionOverheadBytes = 512;

    /// <summary>Submits the actions as one transaction, after checking the rules above.</summary>
    /// <exception cref="ArgumentException">The actions break a rule; nothing was sent.</exception>
    public static async Task SubmitAsync(this TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        Validate(actions, table.Uri);
        await table.SubmitTransactionAsync(actions, cancellationToken);
    }

    /// <param name="table">The table's address (<see cref="TableClient.Uri"/>), which every action's request line repeats.</param>
    /// <exception cref="ArgumentException">More than 100 actions, several partitions, a row twice, or over 4 MiB.</exception>
    public static void Validate(IReadOnlyList<TableTransactionAction> actions, Uri table)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (actions.Count is 0 or > MaxActions)
        {
            throw new ArgumentException($"A transaction holds 1 to {MaxActions} actions; got {actions.Count}.", nameof(actions));
        }
        var partition = actions[0].Entity.PartitionKey;
        var rows = new HashSet<string>(actions.Count, StringComparer.Ordinal);
        long bytes = 0;
        foreach (var action in actions)
        {
            if (!string.Equals(action.Entity.PartitionKey, partition, StringComparison.Ordinal))
            {
                throw new ArgumentException("All actions of a transaction must share one PartitionKey.", nameof(actions));
            }
            if (!rows.Add(action.Entity.RowKey))
            {
                throw new ArgumentException($"RowKey '{action.Entity.RowKey}' appears twice in one transaction.", nameof(actions));
            }
            bytes += Measure(action, table);
        }
        if (bytes > MaxBytes)
        {
            throw new ArgumentException($"The transaction measures {bytes} bytes; the limit is {MaxBytes}.", nameof(actions));
        }
    }

    /// <summary>
    /// The bytes an action takes in the batch body, never fewer than the client sends: its entity
    /// written as the client writes it (default JSON escaping, type annotations), the table's
    /// address and its keys escaped in the request line (the address counted twice, for the Host
    /// header), and the fixed part. Callers fill transactions with it.
    /// </summary>
    public static int Measure(TableTransactionAction action, Uri table)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(table);
        var entity = action.Entity;
        var json = action.ActionType == TableTransactionActionType.Delete ? 0
            : entity is IMeasuredEntity measured ? measured.JsonBytes
            : entity is IDictionary<string, object> properties ? JsonBytes(properties)
            : throw new ArgumentException($"Entities of type {entity.GetType().Name} cannot be measured; use TableEntity.", nameof(action));
        return ActionOverheadBytes + (2 * table.AbsoluteUri.Length) + json + EscapedLength(entity.PartitionKey) + EscapedLength(entity.RowKey);
    }

    /// <summary>Bytes of the JSON the table client writes for these properties.</summary>
    public static int JsonBytes(IEnumerable<KeyValuePair<string, object>> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        using var json = ThreadJsonWriter.Rent<MeasureWriter>();
        var writer = json.Writer;
        writer.WriteStartObject();
        foreach (var (name, value) in properties)
        {
            if (name is "odata.etag" or "Timestamp")
            {
                continue;
            }
            WriteAnnotated(writer, name, value);
        }
        writer.WriteEndObject();
        writer.Flush();
        return json.Buffer.WrittenCount;
    }

    // The client's own writer options: measured as it will write.
    private sealed class MeasureWriter : IThreadJsonWriterKind
    {
        public static JsonWriterOptions Options => default;

        public static int InitialCapacity => 4096;

        public static int KeepUpTo => 1024 * 1024;
    }

    /// <summary>A property as the table client writes it: EDM types that JSON cannot carry get an <c>@odata.type</c> annotation.</summary>
    private static void WriteAnnotated(Utf8JsonWriter writer, string name, object? value)
    {
        string? edm = null;
        switch (value)
        {
            case null:
                writer.WriteNull(name);
                break;
            case string s:
                writer.WriteString(name, s);
                break;
            case bool b:
                writer.WriteBoolean(name, b);
                break;
            case int i:
                writer.WriteNumber(name, i);
                break;
            case long l:
                writer.WriteString(name, l.ToString(System.Globalization.CultureInfo.InvariantCulture));
                edm = "Edm.Int64";
                break;
            case double d when double.IsFinite(d):
                writer.WriteNumber(name, d);
                edm = "Edm.Double";
                break;
            case double:
                writer.WriteString(name, "-Infinity"); // the longest of NaN and the infinities
                edm = "Edm.Double";
                break;
            case Guid g:
                writer.WriteString(name, g);
                edm = "Edm.Guid";
                break;
            case DateTimeOffset or DateTime:
                writer.WriteString(name, "0000-00-00T00:00:00.0000000Z"); // the client's fixed-width "O" form
                edm = "Edm.DateTime";
                break;
            case byte[] bytes:
                writer.WriteBase64String(name, bytes);
                edm = "Edm.Binary";
                break;
            case BinaryData data:
                writer.WriteBase64String(name, data.ToMemory().Span);
                edm = "Edm.Binary";
                break;
            default:
                throw new ArgumentException($"Property '{name}' has type {value.GetType().Name}, which a table entity cannot hold.", nameof(value));
        }
        if (edm is not null)
        {
            writer.WriteString(name + "@odata.type", edm);
        }
    }

    /// <summary>Length of a key in the request line: OData quotes doubled, then percent-encoded (RFC 3986 unreserved characters stay).</summary>
    private static int EscapedLength(string key)
    {
        var length = 0;
        foreach (var rune in key.EnumerateRunes())
        {
            if (rune.Value is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_' or '.' or '~')
            {
                length++;
            }
            else
            {
                length += 3 * rune.Utf8SequenceLength * (rune.Value == '\'' ? 2 : 1);
            }
        }
        return length;
    }
}
