using System.Collections;
using System.Diagnostics.CodeAnalysis;
using AuditTrail.Core.Storage;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Trail;

/// <summary>
/// One of an event's four rows as ingest writes it: its own keys over the event's one set of
/// properties. The table client writes any <see cref="ITableEntity"/> that is a dictionary by
/// enumerating it, as it does its own <see cref="TableEntity"/>; this one enumerates the shared
/// set instead of holding a copy, because building four 21-property dictionaries per event cost a
/// third of the ingest CPU path. It is read-only: rows are written, never edited in place.
/// Properties without a value are left out, as Table Storage keeps no nulls.
/// </summary>
[SuppressMessage("Naming", "CA1710:Identifiers should have correct suffix", Justification = "A table entity; the dictionary is only how the table client reads one.")]
public sealed class EventRow : ITableEntity, IDictionary<string, object>, IMeasuredEntity
{
    private readonly EventRowProperties _properties;

    internal EventRow(string partitionKey, string rowKey, EventRowProperties properties)
    {
        PartitionKey = partitionKey;
        RowKey = rowKey;
        _properties = properties;
    }

    public string PartitionKey { get; set; }

    public string RowKey { get; set; }

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>The stored properties besides the keys, in the layout's order.</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Properties => _properties.Items;

    public int JsonBytes => _properties.JsonBytes + KeyBytes(nameof(PartitionKey), PartitionKey) + KeyBytes(nameof(RowKey), RowKey);

    public int Count => _properties.Items.Count + 2;

    public bool IsReadOnly => true;

    public ICollection<string> Keys => [nameof(PartitionKey), nameof(RowKey), .. _properties.Items.Select(p => p.Key)];

    public ICollection<object> Values => [PartitionKey, RowKey, .. _properties.Items.Select(p => p.Value)];

    public object this[string key]
    {
        get => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The row has no property '{key}'.");
        set => throw ReadOnly();
    }

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object value)
    {
        switch (key)
        {
            case nameof(PartitionKey):
                value = PartitionKey;
                return true;
            case nameof(RowKey):
                value = RowKey;
                return true;
        }
        foreach (var (name, v) in _properties.Items)
        {
            if (name == key)
            {
                value = v;
                return true;
            }
        }
        value = null;
        return false;
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool Contains(KeyValuePair<string, object> item) => TryGetValue(item.Key, out var value) && Equals(value, item.Value);

    public void CopyTo(KeyValuePair<string, object>[] array, int arrayIndex)
    {
        ArgumentNullException.ThrowIfNull(array);
        foreach (var pair in this)
        {
            array[arrayIndex++] = pair;
        }
    }

    public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
    {
        yield return new(nameof(PartitionKey), PartitionKey);
        yield return new(nameof(RowKey), RowKey);
        foreach (var pair in _properties.Items)
        {
            yield return pair;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Add(string key, object value) => throw ReadOnly();

    public void Add(KeyValuePair<string, object> item) => throw ReadOnly();

    public bool Remove(string key) => throw ReadOnly();

    public bool Remove(KeyValuePair<string, object> item) => throw ReadOnly();

    public void Clear() => throw ReadOnly();

    private static NotSupportedException ReadOnly() => new("An event's rows are written as built; they are never edited in place.");

    /// <summary><c>"Name":"value",</c> with the value escaped as the client's JSON writer may escape it (at most six bytes a character).</summary>
    private static int KeyBytes(string name, string value)
    {
        var length = name.Length + 6;
        foreach (var c in value)
        {
            length += char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' or ':' ? 1 : 6;
        }
        return length;
    }
}

/// <summary>The properties the four rows of one event share, and the size of their JSON, measured once.</summary>
internal sealed class EventRowProperties(ArraySegment<KeyValuePair<string, object>> items)
{
    private int _jsonBytes = -1;

    public ArraySegment<KeyValuePair<string, object>> Items { get; } = items;

    // A race measures twice and stores the same number: harmless.
    public int JsonBytes => _jsonBytes >= 0 ? _jsonBytes : _jsonBytes = TableTransactions.JsonBytes(Items);
}
