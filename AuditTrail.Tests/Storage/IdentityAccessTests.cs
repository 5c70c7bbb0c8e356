using System.Net;
using System.Security.Cryptography;
using System.Text;
using AuditTrail.Core.Storage;
using AuditTrail.Tests.Infrastructure;
using Azure.Core;
using Moq;

namespace AuditTrail.Tests.Storage;

/// <summary>
/// Storage by managed identity, as in Azure. Azurite has no Table OAuth and wants HTTPS for tokens,
/// so the token source (Moq) and the transport (scripted) are the honest seams here.
/// </summary>
public sealed class IdentityAccessTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly StorageAccount Account = StorageAccount.ForIdentity("auditacct", null, null, null);

    [Fact]
    public async Task Requests_carry_a_bearer_token_that_is_renewed_only_near_expiry()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var credential = new Mock<TokenCredential>();
        var issued = 0;
        credential.Setup(c => c.GetTokenAsync(It.Is<TokenRequestContext>(r => r.Scopes.Single() == BearerTokenHandler.Scope), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => new AccessToken($"token-{++issued}", clock.Now.AddHours(1)));
        var transport = new FakeStorageHandler(_ => FakeStorageHandler.Status(HttpStatusCode.NotFound, """{"odata.error":{"code":"ResourceNotFound"}}"""));
        using var clients = new StorageClients(Account, new StorageRetryOptions { MaxRetries = 0 }, time: clock, transport: transport, credential: credential.Object);
        var table = clients.GetTable("AuditEvents");

        await table.GetEntityAsync("pk", "rk", Ct);
        clock.Now = clock.Now.AddMinutes(50);
        await table.GetEntityAsync("pk", "rk", Ct);
        clock.Now = clock.Now.AddMinutes(6); // within five minutes of expiry
        await table.GetEntityAsync("pk", "rk", Ct);

        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], transport.Requests.Select(r => r.Authorization));
        Assert.All(transport.Requests, r => Assert.Equal("https", r.Uri.Scheme));
        Assert.Equal("auditacct.table.core.windows.net", transport.Requests[0].Uri.Host);
    }

    [Fact]
    public async Task Download_links_are_user_delegation_SAS_signed_with_the_delegation_key()
    {
        var clock = new TestClock(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var credential = new Mock<TokenCredential>();
        credential.Setup(c => c.GetTokenAsync(It.IsAny<TokenRequestContext>(), It.IsAny<CancellationToken>())).ReturnsAsync(new AccessToken("t", clock.Now.AddHours(1)));
        var keyValue = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        string? keyRequest = null;
        var transport = new FakeStorageHandler(request =>
        {
            keyRequest = request.Content!.ReadAsStringAsync().GetAwaiter().GetResult();
            return FakeStorageHandler.Status(HttpStatusCode.OK,
                $"<?xml version=\"1.0\" encoding=\"utf-8\"?><UserDelegationKey><SignedOid>oid-1</SignedOid><SignedTid>tid-1</SignedTid><SignedStart>2026-11-23T11:55:00Z</SignedStart><SignedExpiry>2026-11-24T12:05:00Z</SignedExpiry><SignedService>b</SignedService><SignedVersion>2021-12-02</SignedVersion><Value>{keyValue}</Value></UserDelegationKey>");
        });
        using var clients = new StorageClients(Account, new StorageRetryOptions { MaxRetries = 0 }, time: clock, transport: transport, credential: credential.Object);
        var container = clients.GetContainer("audit-exports");

        var link = await container.GetReadSasUriAsync("2026/11/23/ws_1/e1.csv", clock.Now, clock.Now.AddHours(1), Ct);
        var second = await container.GetReadSasUriAsync("2026/11/23/ws_1/e2.csv", clock.Now, clock.Now.AddHours(1), Ct);

        Assert.Single(transport.Requests); // one key serves both links
        Assert.Equal("/?restype=service&comp=userdelegationkey", transport.Requests[0].Uri.PathAndQuery);
        Assert.Contains("<KeyInfo><Start>", keyRequest, StringComparison.Ordinal);
        var q = System.Web.HttpUtility.ParseQueryString(link.Query);
        Assert.Equal(("oid-1", "tid-1", "b", "2021-12-02", "b", "r", "https"), (q["skoid"], q["sktid"], q["sks"], q["skv"], q["sr"], q["sp"], q["spr"]));
        Assert.NotNull(q["sig"]);
        // The 25-field layout of versions 2020-12-06 to 2025-07-05, written out independently of the client.
        var expected = string.Join('\n', "r", q["st"], q["se"], "/blob/auditacct/audit-exports/2026/11/23/ws_1/e1.csv",
            "oid-1", "tid-1", "2026-11-23T11:55:00Z", "2026-11-24T12:05:00Z", "b", "2021-12-02",
            "", "", "", "", "https", "2021-12-02", "b", "", "", "", "", "", "", "");
        using var hmac = new HMACSHA256(Convert.FromBase64String(keyValue));
        Assert.Equal(Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(expected))), q["sig"]);
        Assert.Equal("2026-11-23T11:55:00Z", q["st"]);
        Assert.Equal("2026-11-23T13:00:00Z", q["se"]);
        Assert.NotEqual(link.Query, second.Query);
    }

    [Theory]
    [InlineData("auditacct", null, true)]
    [InlineData(null, "https://auditacct.blob.core.windows.net", false)] // needs all three URIs without an account name
    [InlineData("Not-Valid", null, false)]
    [InlineData("auditacct", "http://auditacct.blob.core.windows.net", false)]
    public void Identity_settings_are_checked(string? accountName, string? blobUri, bool valid)
    {
        var build = () => StorageAccount.ForIdentity(accountName, blobUri is null ? null : new Uri(blobUri), null, null);

        if (valid)
        {
            Assert.False(build().HasKey);
        }
        else
        {
            Assert.Throws<FormatException>(build);
        }
    }

    [Fact]
    public void An_account_without_a_key_needs_a_credential()
    {
        Assert.Throws<ArgumentException>(() => new StorageClients(Account, new StorageRetryOptions()));
    }
}
