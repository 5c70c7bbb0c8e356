using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// The keys verification and the JWKS trust come from configuration (and the key the process
/// itself signs with), never from a table: someone who can write the storage account can add a
/// key row, and with it could otherwise re-sign any digest.
/// </summary>
public sealed class TrustedKeyTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_key_row_planted_in_the_key_table_is_trusted_neither_by_verification_nor_by_the_key_set()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        await trail.IngestAsync(trail.Event("evt_k1"), trail.Event("evt_k2"));
        await trail.SealAsync();
        using var forger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var jwk = IntegrityKeys.ToJwk(forger.ExportParameters(false));
        var keys = trail.Clients.Tables.GetTableClient(TrailTables.KeysTable);
        // Where the app used to list every key that ever signed, and trusted all of them.
        await keys.AddEntityAsync(new TableEntity("integrity-public", jwk.Kid) { ["X"] = jwk.X, ["Y"] = jwk.Y }, Ct);
        try
        {
            // Digest 0 re-signed with the planted key, one event fewer, blob and table row alike.
            var blob = trail.DigestBlobs.GetBlobClient(IntegrityStore.DigestBlobName(trail.Ws, 0));
            var (_, payload) = DigestJws.Read((await blob.DownloadContentAsync(Ct)).Value.Content.ToString())!.Value;
            var forged = DigestJws.Sign(payload with { Count = payload.Count - 1 }, new SigningKey(jwk.Kid, forger));
            await blob.UploadAsync(BinaryData.FromString(forged), overwrite: true, Ct);
            var digests = trail.Clients.Tables.GetTableClient(IntegrityStore.DigestsTable);
            var row = (await digests.GetEntityAsync<TableEntity>(trail.Ws, IntegrityStore.DigestRow(0), cancellationToken: Ct)).Value;
            row["Jws"] = forged;
            await digests.UpdateEntityAsync(row, ETag.All, TableUpdateMode.Replace, Ct);

            using var anonymous = trail.App.CreateClient();
            var jwks = JsonDocument.Parse(await anonymous.GetStringAsync("/api/integrity/keys", Ct)).RootElement;
            Assert.DoesNotContain(jwk.Kid, jwks.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()));

            var report = await trail.VerifyAsync();
            Assert.False(report.GetProperty("intact").GetBoolean());
            Assert.Contains((0L, "unknown_key"), IntegrityTrail.DigestProblems(report));
        }
        finally
        {
            await keys.DeleteEntityAsync("integrity-public", jwk.Kid, cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task The_key_set_is_the_active_key_and_the_configured_retired_ones()
    {
        using var active = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var retired = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var clients = AzuriteFixture.CreateClients(azurite.ConnectionString);
        var options = new IntegrityOptions { SigningKeyPem = active.ExportPkcs8PrivateKeyPem(), TrustedPublicKeysPem = retired.ExportSubjectPublicKeyInfoPem() };
        Assert.Null(options.Problem());
        using var keys = new IntegrityKeys(new TrailTables(clients.Tables, clients.Blobs), Options.Create(options), Mock.Of<TokenCredential>(), NullLogger<IntegrityKeys>.Instance);

        var set = (await keys.KeySetAsync(Ct)).Keys.Select(k => k.Kid).ToList();

        Assert.Equal([IntegrityKeys.Thumbprint(active.ExportParameters(false)), IntegrityKeys.Thumbprint(retired.ExportParameters(false))], set);
        Assert.Equal(Base64Url.EncodeToString(retired.ExportParameters(false).Q.X), (await keys.TrustedAsync(Ct))[set[1]].X);
        Assert.NotNull(new IntegrityOptions { TrustedPublicKeysPem = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----" }.Problem());
    }
}
