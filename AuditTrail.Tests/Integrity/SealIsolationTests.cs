using AuditTrail.Core.Integrity;
using AuditTrail.Functions.Integrity;
using AuditTrail.Tests.Infrastructure;
using AuditTrail.Tests.Reliability;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Integrity;

/// <summary>
/// A seal run over every workspace where storage refuses everything about one of them: the others
/// are sealed, the failure is reported by workspace (the command exits 4), and the next run, with
/// storage answering again, seals it. A run over every workspace seals other tests' workspaces too,
/// so this runs on an Azurite of its own.
/// </summary>
public sealed class SealIsolationTests(PrivateAzuriteFixture azurite) : IClassFixture<PrivateAzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_workspace_that_fails_in_a_seal_run_does_not_stop_the_others()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var trail = await IntegrityTrail.StartAsync(storage.ConnectionString, azurite.ConnectionString);
        var others = new[] { TestEvents.NewWorkspaceId(), TestEvents.NewWorkspaceId() };
        await trail.IngestAsync(trail.Event("evt_i1"));
        foreach (var ws in others)
        {
            using var owner = await StoredTrail.IngestClientAsync(trail.App, ws);
            using var response = await StoredTrail.PostAsync(owner, ws, [TestEvents.Event(ws, "evt_o1", timestamp: trail.Clock.Now.AddMinutes(-1))]);
            Assert.True(response.IsSuccessStatusCode);
        }
        // Every request naming the failing workspace (its digest blobs, its rows) is refused.
        storage.Faults = r => r.Target.Contains(trail.Ws, StringComparison.Ordinal) ? new Fault(FaultKind.BadRequest) : null;
        trail.Clock.Now += IntegrityTrail.SealDelay + TimeSpan.FromMinutes(1);
        var sealer = trail.App.Services.GetRequiredService<DigestSealer>();

        var report = await sealer.SealAsync(null, Ct);

        Assert.Equal([trail.Ws], report.Failed.Select(f => f.WorkspaceId));
        Assert.False(report.Succeeded);
        Assert.Equal(others.Order(StringComparer.Ordinal), report.Digests.Select(d => d.Payload.WorkspaceId).Order(StringComparer.Ordinal));
        // The command says which, and exits non-zero.
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(IntegrityCommand.SealFailed, await IntegrityCommand.RunAsync(trail.App.Services, ["integrity", "seal"], output, error, Ct));
        Assert.Contains(trail.Ws, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("FAILED", output.ToString(), StringComparison.Ordinal);

        // Storage answers again: the next run seals it.
        storage.Faults = _ => null;
        var next = await sealer.SealAsync(null, Ct);
        Assert.True(next.Succeeded);
        Assert.Equal([trail.Ws], next.Digests.Select(d => d.Payload.WorkspaceId));
        IntegrityTrail.AssertIntact(await trail.VerifyAsync());
    }
}
