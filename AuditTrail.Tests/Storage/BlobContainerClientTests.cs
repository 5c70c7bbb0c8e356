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

    [Fact]
    public async Task Staged_blocks_commit_in_order_and_a_read_SAS_downloads_that_blob_alone_until_it_expires()
    {
        var container = _clients.GetContainer("client-tests");
        await container.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        var name = $"{Guid.NewGuid():N}/export.csv";
        var other = $"{Guid.NewGuid():N}/other.csv";
        await container.UploadAsync(other, Encoding.UTF8.GetBytes("secret"), null, TestContext.Current.CancellationToken);
        string[] ids = [Convert.ToBase64String(Encoding.ASCII.GetBytes("block-000000")), Convert.ToBase64String(Encoding.ASCII.GetBytes("block-000001"))];
        await container.StageBlockAsync(name, ids[0], Encoding.UTF8.GetBytes("a,b\r\n"), TestContext.Current.CancellationToken);
        await container.StageBlockAsync(name, ids[1], Encoding.UTF8.GetBytes("1,2\r\n"), TestContext.Current.CancellationToken);
        await container.CommitBlockListAsync(name, ids, new BlobUploadOptions("text/csv; charset=utf-8", "attachment; filename=\"audit.csv\""), TestContext.Current.CancellationToken);
        var now = DateTimeOffset.UtcNow;
        using var anonymous = new HttpClient();

        var sas = await container.GetReadSasUriAsync(name, now, now.AddMinutes(10), TestContext.Current.CancellationToken);
        var download = await anonymous.GetAsync(sas, TestContext.Current.CancellationToken);
        var otherBlob = await anonymous.GetAsync(new Uri(sas.ToString().Replace("/export.csv?", "/other.csv?", StringComparison.Ordinal)), TestContext.Current.CancellationToken);
        var otherPath = await anonymous.GetAsync(new Uri(sas.GetLeftPart(UriPartial.Authority) + "/devstoreaccount1/client-tests/" + other + sas.Query), TestContext.Current.CancellationToken);
        using var overwrite = new HttpRequestMessage(HttpMethod.Put, sas) { Content = new ByteArrayContent([1]) };
        overwrite.Headers.Add("x-ms-blob-type", "BlockBlob"); // a well-formed Put Blob, so only the SAS can refuse it
        var write = await anonymous.SendAsync(overwrite, TestContext.Current.CancellationToken);
        var expired = await anonymous.GetAsync(await container.GetReadSasUriAsync(name, now.AddHours(-2), now.AddSeconds(-1), TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("a,b\r\n1,2\r\n", await download.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("attachment; filename=\"audit.csv\"", download.Content.Headers.ContentDisposition?.ToString());
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, otherBlob.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, otherPath.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, write.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, expired.StatusCode);
    }
}
