using System.Security.Cryptography;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using AuditTrail.Tests.Infrastructure;
using Azure.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// Instances that start together with no signing key each generate one, and only one may win:
/// a digest signed by any of them must verify with the key every other one publishes. The key
/// row is one per storage account, so this runs on an Azurite of its own, where none exists yet.
/// </summary>
public sealed class SigningKeyRaceTests(PrivateAzuriteFixture azurite) : IClassFixture<PrivateAzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Instances_generating_the_key_at_once_all_sign_with_the_one_that_was_kept()
    {
        const int instances = 6;
        // Every instance's first look for the key is held until all have looked, so each finds
        // none and generates its own: the race, every time.
        var looked = 0;
        var allLooked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var wire = new RecordingHandler(new SocketsHttpHandler());
        wire.Answer = async (request, _, cancellationToken) =>
        {
            if (request.Method == HttpMethod.Get && request.RequestUri!.ToString().Contains("integrity-signing", StringComparison.Ordinal))
            {
                if (Interlocked.Increment(ref looked) == instances)
                {
                    allLooked.SetResult();
                }
                await allLooked.Task.WaitAsync(cancellationToken);
            }
            return null;
        };
        using var clients = AzuriteFixture.CreateClients(azurite.ConnectionString, wire);
        var keys = Enumerable.Range(0, instances)
            .Select(_ => new IntegrityKeys(new TrailTables(clients.Tables, clients.Blobs), Options.Create(new IntegrityOptions()), Mock.Of<TokenCredential>(), NullLogger<IntegrityKeys>.Instance))
            .ToList();
        try
        {
            var active = await Task.WhenAll(keys.Select(k => Task.Run(() => k.ActiveAsync(Ct), Ct)));

            Assert.Single(active.Select(a => a.Kid).Distinct(StringComparer.Ordinal));
            var published = Assert.Single((await keys[^1].KeySetAsync(Ct)).Keys);
            Assert.Equal(active[0].Kid, published.Kid);
            var data = "digest"u8.ToArray();
            using var verifier = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = System.Buffers.Text.Base64Url.DecodeFromChars(published.X), Y = System.Buffers.Text.Base64Url.DecodeFromChars(published.Y) },
            });
            Assert.All(active, a => Assert.True(verifier.VerifyData(data, a.Key.SignData(data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256)));
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }
}
