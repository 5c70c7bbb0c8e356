using System.Globalization;
using System.Text.Json;

namespace AuditTrail.Core.Storage;

/// <summary>
/// A Table Storage entity: keys plus typed properties. Supported property types are string, bool,
/// int, long, double, DateTimeOffset, Guid and byte[]; the JSON wire form carries the EDM type
/// annotations Table Storage needs for the non-native ones.
/// </summary>
public sealed class TableEntity
{
    private Dictionary<string, object> _properties;

    // Set on both sides by WithKeys: the property set is shared until either entity changes it.
    private bool _sharesProperties;

    public TableEntity(string partitionKey, string rowKey)
        : this(partitionKey, rowKey, 0)
    {
    }

    /// <param name="capacity">Expected number of properties, so a wide entity is not rehashed as it fills.</param>
    public TableEntity(string partitionKey, string rowKey, int capacity)
    {
        PartitionKey = partitionKey;
        RowKey = rowKey;
        _properties = new Dictionary<string, object>(capacity, StringComparer.Ordinal);
    }

    private TableEntity(string partitionKey, string rowKey, Dictionary<string, object> shared)
    {
        PartitionKey = partitionKey;
        RowKey = rowKey;
        _properties = shared;
        _sharesProperties = true;
    }

    /// <summary>
    /// The same properties under other keys, without copying them: an event's index rows carry the
    /// primary row's 21 properties, and building each set again was a third of the ingest CPU path.
    /// Either entity copies the set before its first change, so neither ever sees the other's.
    /// </summary>
    public TableEntity WithKeys(string partitionKey, string rowKey)
    {
        _sharesProperties = true;
        return new TableEntity(partitionKey, rowKey, _properties);
    }

    public string PartitionKey { get; }
    public string RowKey { get; }
    public string? ETag { get; internal set; }
    public DateTimeOffset? Timestamp { get; internal set; }

    public IReadOnlyDictionary<string, object> Properties => _properties;

    /// <summary>Sets a property; a null value removes it (Table Storage has no nulls).</summary>
    public object? this[string name]
    {
        get => _properties.GetValueOrDefault(name);
        set
        {
            if (_sharesProperties)
            {
                _properties = new Dictionary<string, object>(_properties, StringComparer.Ordinal);
                _sharesProperties = false;
            }
            if (value is null)
            {
                _properties.Remove(name);
                return;
            }
            _properties[name] = value switch
            {
                string or bool or int or long or double or Guid or byte[] => value,
                DateTimeOffset dto => dto.ToUniversalTime(),
                DateTime dt => new DateTimeOffset(dt.ToUniversalTime()),
                _ => throw new ArgumentException($"Property '{name}' has unsupported type {value.GetType().Name}.", nameof(value)),
            };
        }
    }

    public string? GetString(string name) => _properties.GetValueOrDefault(name) as string;

    public DateTimeOffset? GetDateTimeOffset(string name) => _properties.GetValueOrDefault(name) switch
    {
        DateTimeOffset d => d,
        string s when DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) => d,
        _ => null,
    };

    public long? GetInt64(string name) => _properties.GetValueOrDefault(name) switch
    {
        long l => l,
        int i => i,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        _ => null,
    };

    public int? GetInt32(string name) => _properties.GetValueOrDefault(name) switch
    {
        int i => i,
        long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
        _ => null,
    };

    public bool? GetBoolean(string name) => _properties.GetValueOrDefault(name) as bool?;

    internal void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(nameof(PartitionKey), PartitionKey);
        writer.WriteString(nameof(RowKey), RowKey);
        Span<char> instant = stackalloc char[AuditTrail.Core.Events.Iso8601.FormattedLength];
        foreach (var (name, value) in _properties)
        {
            switch (value)
            {
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
                    writer.WriteString(name, l.ToString(CultureInfo.InvariantCulture));
                    writer.WriteString(name + "@odata.type", "Edm.Int64");
                    break;
                case double d when double.IsFinite(d):
                    writer.WriteNumber(name, d);
                    break;
                case double d:
                    writer.WriteString(name, double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
                    writer.WriteString(name + "@odata.type", "Edm.Double");
                    break;
                case DateTimeOffset dto:
                    writer.WriteString(name, AuditTrail.Core.Events.Iso8601.Format(dto, instant));
                    writer.WriteString(name + "@odata.type", "Edm.DateTime");
                    break;
                case Guid g:
                    writer.WriteString(name, g);
                    writer.WriteString(name + "@odata.type", "Edm.Guid");
                    break;
                case byte[] bytes:
                    writer.WriteBase64String(name, bytes);
                    writer.WriteString(name + "@odata.type", "Edm.Binary");
                    break;
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>Reads an entity from a <c>minimalmetadata</c> or <c>fullmetadata</c> JSON object.</summary>
    internal static TableEntity FromJson(JsonElement json)
    {
        string? pk = null, rk = null;
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in json.EnumerateObject())
        {
            if (p.Name.EndsWith("@odata.type", StringComparison.Ordinal) && p.Value.ValueKind == JsonValueKind.String)
            {
                types[p.Name[..^"@odata.type".Length]] = p.Value.GetString()!;
            }
            else if (p.Name == "PartitionKey")
            {
                pk = p.Value.GetString();
            }
            else if (p.Name == "RowKey")
            {
                rk = p.Value.GetString();
            }
        }

        var entity = new TableEntity(pk ?? string.Empty, rk ?? string.Empty);
        foreach (var p in json.EnumerateObject())
        {
            var name = p.Name;
            if (name is "PartitionKey" or "RowKey" || name.Contains('@', StringComparison.Ordinal) || name.StartsWith("odata.", StringComparison.Ordinal))
            {
                if (name == "odata.etag")
                {
                    entity.ETag = p.Value.GetString();
                }
                continue;
            }
            if (name == "Timestamp")
            {
                entity.Timestamp = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetDateTimeOffset() : null;
                continue;
            }
            entity._properties[name] = ReadValue(p.Value, types.GetValueOrDefault(name));
        }
        return entity;
    }

    private static object ReadValue(JsonElement value, string? edmType) => edmType switch
    {
        "Edm.Int64" => long.Parse(value.GetString()!, CultureInfo.InvariantCulture),
        "Edm.DateTime" => DateTimeOffset.Parse(value.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
        "Edm.Guid" => Guid.Parse(value.GetString()!),
        "Edm.Binary" => value.GetBytesFromBase64(),
        "Edm.Double" when value.ValueKind == JsonValueKind.String => value.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            _ => double.NegativeInfinity,
        },
        _ => value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when value.TryGetInt32(out var i) => i,
            JsonValueKind.Number => value.GetDouble(),
            _ => value.GetRawText(),
        },
    };
}
