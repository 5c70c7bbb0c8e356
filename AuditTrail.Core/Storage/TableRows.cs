using Azure.Data.Tables;

namespace AuditTrail.Core.Storage;

public static class TableRows
{
    /// <summary>
    /// An entity with the properties that have a value. Table Storage keeps no nulls, so a property
    /// without one is left out rather than sent as a JSON null: what is stored is exactly what the
    /// code names, and a replace removes what is no longer set.
    /// </summary>
    public static TableEntity Create(string partitionKey, string rowKey, params ReadOnlySpan<(string Name, object? Value)> properties)
    {
        var entity = new TableEntity(partitionKey, rowKey);
        foreach (var (name, value) in properties)
        {
            if (value is not null)
            {
                entity[name] = value;
            }
        }
        return entity;
    }

    /// <summary>The entity, or null when there is none with these keys.</summary>
    public static async Task<TableEntity?> FindAsync(this TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        var found = await table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, cancellationToken: cancellationToken);
        return found.HasValue ? found.Value : null;
    }
}
