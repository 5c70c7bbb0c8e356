using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using AuditTrail.Core.Integrity;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// A blob planted at the next digest's name by someone who can write the storage account: the
/// sealer does not adopt it (it would have taken its <c>end</c> as the chain's and, for a far-future
/// one, stopped sealing the workspace for good), alarms, seals the genuine digest beside it and goes
/// on; verification reports the planted blob as <c>digest_conflict</c>. The app signs with a
/// configured key the test also holds, so "signed by the trusted key but not the next link" can be planted too.
/// </summary>
public sealed class DigestConflictTests(AzuriteFixture azurite)
{
    private const string FarFuture = "9999-12-31T00:00:00.0000000Z";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Plants => ["unsigned", "wrongly_signed", "other_workspace", "other_sequence", "wrong_previous"];

    /// <summary>What someone with storage access writes at digest 1's name, given genuine digest 0.</summary>
    private static string Plant(string kind, string ws, SealedDigest first, SigningKey trusted)
    {
        var p = first.Payload;
        var next = new DigestPayload(DigestPayload.CurrentVersion, ws, 1, p.End, FarFuture, 0,
            Convert.ToHexStringLower(MerkleTree.Root([])), first.Hash, [], p.SealedAt);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        switch (kind)
        {
            case "unsigned":
                var signed = DigestJws.Sign(next, trusted);
                return signed[..(signed.LastIndexOf('.') + 1)]; // header and payload, no signature
            case "wrongly_signed":
                return DigestJws.Sign(next, new SigningKey(trusted.Kid, other)); // the trusted key's id, another key
            case "other_workspace":
                return DigestJws.Sign(next with { WorkspaceId = ws + "x" }, trusted);
            case "other_sequence":
                return DigestJws.Sign(next with { Sequence = 2 }, trusted);
            case "wrong_previous":
                return DigestJws.Sign(next with { PreviousDigest = DigestJws.Hash("not the previous digest") }, trusted);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    [Theory]
    [MemberData(nameof(Plants))]
    public async Task A_planted_next_digest_is_not_adopted_is_reported_as_a_conflict_and_sealing_goes_on(string kind)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var settings = new Dictionary<string, string> { ["AuditTrail:Integrity:SigningKeyPem"] = key.ExportPkcs8PrivateKeyPem() };
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString, settings: settings);
        var conflicts = 0L;
        using var listener = Count(trail, "audittrail.integrity.digest_conflicts", n => Interlocked.Add(ref conflicts, n));
        await trail.IngestAsync(trail.Event("evt_c1"));
        var first = Assert.Single((await trail.SealAsync()).Digests);
        var trusted = await trail.App.Services.GetRequiredService<IntegrityKeys>().ActiveAsync(Ct);
        var planted = trail.DigestBlobs.GetBlobClient(IntegrityStore.DigestBlobName(trail.Ws, 1));
        await planted.UploadAsync(BinaryData.FromString(Plant(kind, trail.Ws, first, trusted)), Ct);

        await trail.IngestAsync(trail.Event("evt_c2"));
        var second = await trail.SealAsync();

        // The genuine digest 1 is sealed beside the planted blob, chained to digest 0.
        var sealedNow = Assert.Single(second.Digests);
        Assert.Equal(1, sealedNow.Payload.Sequence);
        Assert.Equal(first.Hash, sealedNow.Payload.PreviousDigest);
        Assert.NotEqual(FarFuture, sealedNow.Payload.End);
        Assert.True(await trail.DigestBlobs.GetBlobClient(IntegrityStore.DigestBlobName(trail.Ws, 1, 1)).ExistsAsync(Ct));
        Assert.Equal($"{IntegrityStore.DigestContainer}/{trail.Ws}/0000000001.1.jws", (await trail.DigestsAsync())[1].GetProperty("blob").GetString());
        Assert.True(second.Succeeded);
        Assert.True(Interlocked.Read(ref conflicts) >= 1, "the conflict was not counted");

        // And sealing goes on.
        await trail.IngestAsync(trail.Event("evt_c3"));
        Assert.Equal(2, Assert.Single((await trail.SealAsync()).Digests).Payload.Sequence);

        var report = await trail.VerifyAsync();
        Assert.Equal([(1L, "digest_conflict")], IntegrityTrail.DigestProblems(report));
        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(3, report.GetProperty("digests").GetInt32());
        Assert.Empty(IntegrityTrail.Ids(report, "modified").Concat(IntegrityTrail.Ids(report, "missing")).Concat(IntegrityTrail.Ids(report, "unrecorded")));
        Assert.Equal(0, report.GetProperty("pending").GetInt64());
    }

    [Fact]
    public async Task A_digest_whose_run_stopped_after_its_blob_is_still_adopted()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        await trail.IngestAsync(trail.Event("evt_s1"));
        var first = Assert.Single((await trail.SealAsync()).Digests);
        // The run stopped after the blob: its table row and the head are gone, the blob is there.
        var digests = trail.Clients.Tables.GetTableClient(IntegrityStore.DigestsTable);
        await digests.DeleteEntityAsync(trail.Ws, IntegrityStore.DigestRow(0), cancellationToken: Ct);
        await digests.DeleteEntityAsync(trail.Ws, "head", cancellationToken: Ct);

        await trail.IngestAsync(trail.Event("evt_s2"));
        var next = Assert.Single((await trail.SealAsync()).Digests);

        Assert.Equal(1, next.Payload.Sequence);
        Assert.Equal(first.Hash, next.Payload.PreviousDigest);
        IntegrityTrail.AssertIntact(await trail.VerifyAsync());
    }

    private static MeterListener Count(IntegrityTrail trail, string instrumentName, Action<long> add)
    {
        var meters = trail.App.Services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == instrumentName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => add(value));
        listener.Start();
        return listener;
    }
}
