using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>Reads of what storage really holds, for tests to check against (never through the app).</summary>
public static class StorageReads
{
    /// <summary>Every row of one partition.</summary>
    public static async Task<List<TableEntity>> PartitionAsync(this TableClient table, string partitionKey, CancellationToken cancellationToken, params string[] select) =>
        await table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}"), select: select.Length == 0 ? null : select, cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken);

    /// <summary>Names of the blobs under a prefix.</summary>
    public static async Task<List<string>> BlobNamesAsync(this BlobContainerClient container, string prefix, CancellationToken cancellationToken) =>
        await container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = prefix }, cancellationToken).Select(b => b.Name).ToListAsync(cancellationToken);

    /// <summary>
    /// Names of the day-dated blobs (dead letters: <c>yyyy/MM/dd/{prefix}…</c>) of today and yesterday
    /// (UTC): what a test wrote moments ago, even when midnight passed in between.
    /// </summary>
    public static async Task<List<string>> RecentBlobNamesAsync(this BlobContainerClient container, string prefix, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var names = new List<string>();
        foreach (var day in new[] { now, now.AddDays(-1) })
        {
            names.AddRange(await container.BlobNamesAsync(day.ToString("yyyy/MM/dd/", System.Globalization.CultureInfo.InvariantCulture) + prefix, cancellationToken));
        }
        return names;
    }

    /// <summary>A blob's content as UTF-8 text; null when there is no such blob.</summary>
    public static async Task<string?> ReadTextAsync(this BlobContainerClient container, string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await container.GetBlobClient(name).DownloadContentAsync(cancellationToken)).Value.Content.ToString();
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }
}
