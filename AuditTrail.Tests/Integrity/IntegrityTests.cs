using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuditTrail.Core.Integrity;
using AuditTrail.Core.Trail;
using AuditTrail.Functions.Integrity;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Integrity;

/// <summary>The tamper-evident trail against Azurite: each kind of tampering is reported with the event or digest concerned.</summary>
public sealed class IntegrityTests(AzuriteFixture azurite)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Three batches, each sealed in its own digest.</summary>
    private async Task<IntegrityTrail> SealedTrailAsync(string? storage = null)
    {
        var trail = await IntegrityTrail.StartAsync(storage ?? azurite.ConnectionString, azurite.ConnectionString);
        await trail.IngestAsync(trail.Event("evt_a1"), trail.Event("evt_a2"), trail.Event("evt_a3"));
        await trail.SealAsync();
        await trail.IngestAsync(trail.Event("evt_b1"), trail.Event("evt_b2"));
        await trail.SealAsync(TimeSpan.FromMinutes(40));
        await trail.IngestAsync(trail.Event("evt_c1"));
        await trail.SealAsync(TimeSpan.FromMinutes(70));
        return trail;
    }

    [Fact]
    public async Task An_untouched_workspace_verifies_intact_across_several_digests()
    {
        await using var trail = await SealedTrailAsync();

        var report = await trail.VerifyAsync();
        IntegrityTrail.AssertIntact(report);
        Assert.Equal(3, report.GetProperty("digests").GetInt32());
        Assert.Equal(7, report.GetProperty("events").GetInt64()); // six events and the owner token's own record
        Assert.Equal(0, report.GetProperty("pending").GetInt64());
        Assert.Equal(trail.Clock.Now, report.GetProperty("lastSealedAt").GetDateTimeOffset()); // what the page shows

        var digests = await trail.DigestsAsync();
        Assert.Equal([0L, 1L, 2L], digests.Select(d => d.GetProperty("sequence").GetInt64()));
        Assert.Equal([4L, 2L, 1L], digests.Select(d => d.GetProperty("count").GetInt64()));
        Assert.Equal(digests[0].GetProperty("digestHash").GetString(), digests[1].GetProperty("previousDigest").GetString());

        // The command says the same, with exit code 0.
        var output = new StringWriter();
        Assert.Equal(0, await IntegrityCommand.RunAsync(trail.App.Services, ["integrity", "verify", "--workspace", trail.Ws], output, new StringWriter(), Ct));
        Assert.StartsWith("Intact", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editing_one_property_of_one_stored_row_is_reported_as_modified()
    {
        await using var trail = await SealedTrailAsync();
        var row = (await trail.RowsOfAsync("evt_b2"))[1]; // an index row: the query by actor would show it
        row["ActorName"] = "Mallory";
        await trail.Events.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(["evt_b2"], IntegrityTrail.Ids(report, "modified"));
        Assert.Empty(IntegrityTrail.Ids(report, "missing"));
        var output = new StringWriter();
        Assert.Equal(IntegrityCommand.NotIntact, await IntegrityCommand.RunAsync(trail.App.Services, ["integrity", "verify", "--workspace", trail.Ws], output, new StringWriter(), Ct));
        Assert.Contains("modified    evt_b2", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_an_event_s_rows_is_reported_as_missing()
    {
        await using var trail = await SealedTrailAsync();
        foreach (var row in await trail.RowsOfAsync("evt_a2"))
        {
            await trail.Events.DeleteEntityAsync(row.PartitionKey, row.RowKey, cancellationToken: Ct);
        }

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(["evt_a2"], IntegrityTrail.Ids(report, "missing"));
        Assert.Empty(IntegrityTrail.Ids(report, "modified"));
    }

    [Fact]
    public async Task A_forged_row_is_reported_as_unrecorded()
    {
        await using var trail = await SealedTrailAsync();
        var model = (await trail.RowsOfAsync("evt_a1"))[0];
        var forged = new TableEntity(model);
        forged["EventId"] = "evt_forged";
        forged.RowKey = TrailKeys.PrimaryPrefix + TrailKeys.EventSuffix(model.GetDateTimeOffset("EventTime")!.Value, "evt_forged");
        forged["ActorId"] = "usr_scapegoat";
        await trail.Events.AddEntityAsync(forged, Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal(["evt_forged"], IntegrityTrail.Ids(report, "unrecorded"));
        Assert.Empty(IntegrityTrail.Ids(report, "modified"));
    }

    [Fact]
    public async Task Deleting_a_digest_blob_is_reported_with_its_sequence()
    {
        await using var trail = await SealedTrailAsync();
        await trail.DigestBlobs.DeleteBlobAsync(IntegrityStore.DigestBlobName(trail.Ws, 1), cancellationToken: Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Contains((1L, "digest_missing"), IntegrityTrail.DigestProblems(report));
        Assert.Contains((1L, "chain_break"), IntegrityTrail.DigestProblems(report));
    }

    [Fact]
    public async Task Editing_a_digest_blob_is_reported_as_a_bad_signature()
    {
        await using var trail = await SealedTrailAsync();
        var blob = trail.DigestBlobs.GetBlobClient(IntegrityStore.DigestBlobName(trail.Ws, 1));
        var parts = (await blob.DownloadContentAsync(Ct)).Value.Content.ToString().Split('.');
        var payload = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        payload["count"] = 1; // hide one event; the signature is kept
        parts[1] = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        await blob.UploadAsync(BinaryData.FromString(string.Join('.', parts)), overwrite: true, Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Contains((1L, "bad_signature"), IntegrityTrail.DigestProblems(report));
        Assert.Contains((1L, "digest_differs"), IntegrityTrail.DigestProblems(report));
    }

    [Fact]
    public async Task A_digest_re_signed_with_another_key_is_reported_by_its_sequence()
    {
        await using var trail = await SealedTrailAsync();
        var blob = trail.DigestBlobs.GetBlobClient(IntegrityStore.DigestBlobName(trail.Ws, 2));
        var original = (await blob.DownloadContentAsync(Ct)).Value.Content.ToString();
        var (header, payload) = DigestJws.Read(original)!.Value;
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // Same key id, same contents but one event fewer: only the key differs from a genuine digest.
        var forged = DigestJws.Sign(payload with { Count = payload.Count - 1 }, new SigningKey(header.Kid, other));
        await blob.UploadAsync(BinaryData.FromString(forged), overwrite: true, Ct);
        var row = await trail.Clients.Tables.GetTableClient(IntegrityStore.DigestsTable).GetEntityAsync<TableEntity>(trail.Ws, IntegrityStore.DigestRow(2), cancellationToken: Ct);
        row.Value["Jws"] = forged; // the index rewritten too: only the signature can tell
        await trail.Clients.Tables.GetTableClient(IntegrityStore.DigestsTable).UpdateEntityAsync(row.Value, ETag.All, TableUpdateMode.Replace, Ct);

        var report = await trail.VerifyAsync();

        Assert.False(report.GetProperty("intact").GetBoolean());
        Assert.Equal([(2L, "bad_signature"), (2L, "ledger_altered")], IntegrityTrail.DigestProblems(report).Order());
    }

    [Fact]
    public async Task A_replayed_batch_adds_nothing_to_the_ledger_and_the_trail_stays_intact()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        JsonObject[] batch = [trail.Event("evt_r1"), trail.Event("evt_r2")];
        await trail.IngestAsync(batch);
        await trail.SealAsync();
        var entries = await trail.LedgerEntriesAsync();

        var replay = await trail.IngestAsync(batch);
        Assert.Equal(2, replay.GetProperty("duplicates").GetInt32());
        await trail.SealAsync();

        Assert.Equal(entries, await trail.LedgerEntriesAsync());
        Assert.Single(await trail.DigestsAsync()); // nothing new to seal
        IntegrityTrail.AssertIntact(await trail.VerifyAsync());
    }

    [Fact]
    public async Task A_crash_between_store_and_ledger_is_repaired_by_the_replay_even_after_a_seal()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var trail = await IntegrityTrail.StartAsync(storage.ConnectionString, azurite.ConnectionString);
        JsonObject[] batch = [trail.Event("evt_k1"), trail.Event("evt_k2")];
        // The rows are stored; every ledger write fails, so ingest fails before acknowledging.
        storage.Faults = r => r.Touches(IntegrityStore.LedgerTable) ? new Fault(FaultKind.ServerBusy) : null;
        await StoredTrail.AssertStorageUnavailableAsync(await StoredTrail.PostAsync(trail.Owner, trail.Ws, batch));
        storage.Faults = _ => null;
        Assert.Equal(4, (await trail.RowsOfAsync("evt_k1")).Count);

        // Sealed meanwhile, past the time any ingest can take: the events are stored and in no digest, and verification says so.
        await trail.SealAsync(Core.Ingestion.IngestionService.OrphanAfter + TimeSpan.FromMinutes(1));
        var before = await trail.VerifyAsync();
        Assert.Equal(["evt_k1", "evt_k2"], IntegrityTrail.Ids(before, "unrecorded").Order());

        // The producer's replay records them now, in the ledger's present, never in the interval sealed.
        var replay = await trail.IngestAsync(batch);
        Assert.Equal(2, replay.GetProperty("duplicates").GetInt32());
        await trail.SealAsync();
        var after = await trail.VerifyAsync();
        IntegrityTrail.AssertIntact(after);
        Assert.Equal(2, (await trail.DigestsAsync()).Count);
    }

    [Fact]
    public async Task The_timer_function_seals_every_workspace_with_new_entries()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        await trail.IngestAsync(trail.Event("evt_t1"));
        trail.Clock.Now += TimeSpan.FromMinutes(6);

        using var http = trail.App.CreateClient();
        using var response = await http.PostAsync("/" + IntegrityApi.TimerFunction, new StringContent("{}", Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var digest = Assert.Single(await trail.DigestsAsync());
        Assert.Equal(2, digest.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task A_digest_verifies_with_nothing_but_the_published_key_set()
    {
        await using var trail = await SealedTrailAsync();
        using var anonymous = trail.App.CreateClient();
        var jwks = JsonDocument.Parse(await anonymous.GetStringAsync("/api/integrity/keys", Ct)).RootElement;
        var jws = (await trail.DigestsAsync())[1].GetProperty("jws").GetString()!;

        // Only the JWS and the JWK: no code of the app.
        var parts = jws.Split('.');
        var kid = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement.GetProperty("kid").GetString();
        var jwk = jwks.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("kid").GetString() == kid);
        Assert.Equal(("EC", "P-256"), (jwk.GetProperty("kty").GetString(), jwk.GetProperty("crv").GetString()));
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()), Y = Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()) },
        });
        var signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        var signature = Base64Url.DecodeFromChars(parts[2]);
        Assert.True(key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        signature[5] ^= 1;
        Assert.False(key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

        // And with openssl, as docs/integrity.md shows it.
        if (OpenSsl.Available)
        {
            Assert.Equal("Verified OK", await OpenSsl.VerifyAsync(jws, jwk, Ct));
            Assert.NotEqual("Verified OK", await OpenSsl.VerifyAsync(parts[0] + "." + parts[1] + "x." + parts[2], jwk, Ct));
        }
    }

    [Fact]
    public async Task Only_the_workspace_owner_sees_digests_and_verification_and_bad_ranges_are_problems()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        using var ingest = await StoredTrail.IngestClientAsync(trail.App, trail.Ws, Core.Access.Roles.Ingest);
        using var stranger = await StoredTrail.IngestClientAsync(trail.App, TestEvents.NewWorkspaceId());
        using var anonymous = trail.App.CreateClient();

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync($"/api/workspaces/{trail.Ws}/integrity/verification", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await stranger.GetAsync($"/api/workspaces/{trail.Ws}/integrity/digests", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/workspaces/{trail.Ws}/integrity/verification", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/api/integrity/keys", Ct)).StatusCode);

        foreach (var (query, code) in new[]
                 {
                     ("?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z", "invalid_range"),
                     ("?start=yesterday", "invalid_time"),
                     ("?start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "invalid_range"),
                     ("?limit=5", "unknown_parameter"),
                 })
        {
            using var response = await trail.Owner.GetAsync($"/api/workspaces/{trail.Ws}/integrity/verification{query}", Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(code, (await StoredTrail.JsonAsync(response)).GetProperty("code").GetString());
        }
    }
}

/// <summary>
/// A purge on a clock days ahead expires every workspace's days older than 88 days, so it runs on
/// an Azurite of its own rather than take other tests' old events (RetentionTests keeps to clocks
/// 400 days back for the same reason).
/// </summary>
public sealed class IntegrityPurgeTests(PrivateAzuriteFixture azurite) : IClassFixture<PrivateAzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Purged_days_verify_as_expected_not_missing()
    {
        await using var trail = await IntegrityTrail.StartAsync(azurite.ConnectionString);
        var old = TestEvents.Event(trail.Ws, "evt_old", timestamp: trail.Clock.Now.AddDays(-89.9));
        await trail.IngestAsync(old, trail.Event("evt_new"));
        await trail.SealAsync();
        // Two days on, evt_old's day is before the first kept day at any hour: after one day it is
        // the first kept day itself whenever now - 89.9 days falls on the next day (after 21:36 UTC).
        trail.Clock.Now += TimeSpan.FromDays(2);
        var purge = await trail.App.Services.GetRequiredService<Core.Retention.RetentionService>().PurgeAsync(false, Ct);
        Assert.Contains(purge.Partitions, p => p.WorkspaceId == trail.Ws);
        Assert.Empty(await trail.RowsOfAsync("evt_old"));
        await trail.SealAsync();

        var report = await trail.VerifyAsync($"?start={Uri.EscapeDataString(trail.Clock.Now.AddDays(-3).ToString("O"))}");

        IntegrityTrail.AssertIntact(report);
        Assert.Equal(1, report.GetProperty("purged").GetInt64());
        var digests = await trail.DigestsAsync();
        Assert.Contains(digests, d => d.GetProperty("jws").GetString() is { } jws && DigestJws.Read(jws)!.Value.Payload.PurgedDays.Count == 1);
    }
}
