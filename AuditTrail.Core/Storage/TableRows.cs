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

    /// <summary>Deletes rows of one partition, 100 per transaction; rows that are already gone are skipped.</summary>
    public static async Task DeleteRowsAsync(this TableClient table, string partitionKey, IReadOnlyList<string> rowKeys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(rowKeys);
        foreach (var chunk in rowKeys.Chunk(TableTransactions.MaxActions))
        {
            try
            {
                await table.SubmitAsync(chunk.Select(rk => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, rk))).ToList(), cancellationToken);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                // A run cut off midway already deleted some: finish the rest one by one.
                // (A delete of a row that is gone answers 404 and is not an error outside a transaction.)
                foreach (var rk in chunk)
                {
                    await table.DeleteEntityAsync(partitionKey, rk, cancellationToken: cancellationToken);
                }
            }
        }
    }

    /// <summary>
    /// Deletes rows of one partition as they were read, 100 per transaction: one changed since
    /// (its ETag no longer matches) or gone is left as it is. Returns how many went.
    /// </summary>
    public static async Task<int> DeleteUnchangedAsync<T>(this TableClient table, IReadOnlyList<T> rows, CancellationToken cancellationToken = default)
        where T : ITableEntity
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(rows);
        var deleted = 0;
        foreach (var chunk in rows.Chunk(TableTransactions.MaxActions))
        {
            try
            {
                await table.SubmitAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, r.ETag)).ToList(), cancellationToken);
                deleted += chunk.Length;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 404 or 412)
            {
                foreach (var r in chunk)
                {
                    try
                    {
                        await table.DeleteEntityAsync(r.PartitionKey, r.RowKey, r.ETag, cancellationToken);
                        deleted++;
                    }
                    catch (Azure.RequestFailedException one) when (one.Status == 412)
                    {
                        // Changed since it was read.
                    }
                }
            }
        }
        return deleted;
    }
}
