using AuditTrail.Core.Storage;

namespace AuditTrail.Tests.Storage;

public sealed class StorageAccountTests
{
    [Fact]
    public void Development_shorthand_expands_to_Azurite_endpoints()
    {
        var account = StorageAccount.Parse("UseDevelopmentStorage=true");

        Assert.Equal("devstoreaccount1", account.Name);
        Assert.Equal(new Uri("http://127.0.0.1:10002/devstoreaccount1"), account.TableEndpoint);
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), account.BlobEndpoint);
        Assert.Equal(new Uri("http://127.0.0.1:10001/devstoreaccount1"), account.QueueEndpoint);
    }

    [Fact]
    public void Account_key_connection_string_builds_cloud_endpoints()
    {
        var account = StorageAccount.Parse("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + Convert.ToBase64String(new byte[32]) + ";EndpointSuffix=core.windows.net");

        Assert.Equal(new Uri("https://acct.table.core.windows.net"), account.TableEndpoint);
        Assert.Equal(new Uri("https://acct.blob.core.windows.net"), account.BlobEndpoint);
    }

    [Theory]
    [InlineData("AccountName=acct")]
    [InlineData("AccountKey=c2VjcmV0")]
    [InlineData("AccountName=acct;AccountKey=not base64 at all!")]
    [InlineData("garbage")]
    public void Unusable_connection_strings_fail_without_revealing_the_key(string connectionString)
    {
        var ex = Assert.Throws<FormatException>(() => StorageAccount.Parse(connectionString));

        Assert.DoesNotContain("c2VjcmV0", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not base64", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_never_shows_the_key()
    {
        var account = StorageAccount.Parse("UseDevelopmentStorage=true");

        Assert.DoesNotContain("Eby8", account.ToString(), StringComparison.Ordinal);
    }
}
