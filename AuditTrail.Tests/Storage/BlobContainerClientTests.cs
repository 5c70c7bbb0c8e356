using System.Text;
using AuditTrail.Core.Storage;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Storage;

public sealed class BlobContainerClientTests(AzuriteFixture azurite) : IDisposable
{
    private readonly StorageClients _clients = azurite.CreateClients();

    public void Dispose() => _clients.Dispose();

    [Fact]
    public async Task Uploaded_blob_downloads_byte_for_byte_and_is_listed_by_prefix()
    {
        var container = _clients.GetContainer("client-tests");
        await container.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        await container.CreateIfNotExistsAsync(TestContext.Current.CancellationToken); // idempotent
        var prefix = Guid.NewGuid().ToString("N");
        var content = Encoding.UTF8.GetBytes("{\"a\":1}\n{\"b\":\"☃\"}\n");

        await container.UploadAsync($"{prefix}/2026/11/23/one file.jsonl", content, new BlobUploadOptions("application/x-ndjson"), TestContext.Current.CancellationToken);
        await container.UploadAsync($"{prefix}/2026/11/24/two.jsonl", content, null, TestContext.Current.CancellationToken);

        Assert.Equal(content, await container.DownloadAsync($"{prefix}/2026/11/23/one file.jsonl", TestContext.Current.CancellationToken));
        Assert.Null(await container.DownloadAsync($"{prefix}/missing", TestContext.Current.CancellationToken));
        var names = await container.ListBlobNamesAsync(prefix + "/2026/11/23/", TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);
        Assert.Equal([$"{prefix}/2026/11/23/one file.jsonl"], names);
    }
}
