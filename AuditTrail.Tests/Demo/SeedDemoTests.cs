using AuditTrail.Core.Events;
using AuditTrail.Core.Query;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Demo;

/// <summary><c>seed-demo</c> (what scripts/run does first) against Azurite: a realistic trail, once.</summary>
public sealed class SeedDemoTests : IAsyncDisposable
{
    private readonly TestClock _clock = TestClock.AtTestTime();
    private readonly AuditTrailAppFactory _app;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public SeedDemoTests(AzuriteFixture azurite)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        _app = new AuditTrailAppFactory(azurite.ConnectionString, _clock);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private AuditTrailAppFactory App => _app;

    private async Task<(int Exit, string Out)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await AuditTrail.Functions.Hosting.CommandLine.RunAsync(App.Services, ["seed-demo", .. args], output, error, Ct);
        return (exit, output + error.ToString());
    }

    private async Task<List<AuditEvent>> TrailAsync(string ws)
    {
        var query = new AuditQuery(ws, _clock.Now.AddDays(-EventLimits.RetentionDays), _clock.Now.AddMinutes(5), [], null, null, null, null, null, AuditQuery.MaxLimit);
        return [.. (await App.Services.GetRequiredService<TrailQueryService>().QueryAsync(query, null, Ct)).Events];
    }

    [Fact]
    public async Task First_run_seeds_a_realistic_90_day_trail_and_later_runs_add_nothing()
    {
        var ws = TestEvents.NewWorkspaceId();

        var first = await RunAsync("--workspace", ws);
        var trail = await TrailAsync(ws);

        Assert.Equal(0, first.Exit);
        Assert.Contains($"Seeded workspace {ws}: {trail.Count} events added (0 already there, 0 refused).", first.Out, StringComparison.Ordinal);
        Assert.InRange(trail.Count, 300, 600);
        Assert.True(trail.Select(e => e.ProductArea).Distinct().Count() >= 8, "The demo should cover most of the catalog's areas.");
        Assert.All(trail, e => Assert.NotEqual(EventCatalog.UncatalogedArea, e.ProductArea));
        Assert.Contains(trail, e => e.Actor.Type == ActorTypes.Token);
        Assert.True(trail.Where(e => e.Actor.Type == ActorTypes.User).Select(e => e.Actor.Id).Distinct().Count() >= 4);
        Assert.True(trail.Count(e => e.Changes is not null) >= 50, "The demo should show changes, before and after.");
        Assert.True(trail.Max(e => e.Timestamp) - trail.Min(e => e.Timestamp) > TimeSpan.FromDays(80));
        Assert.All(trail, e => Assert.True(e.Timestamp < _clock.Now && e.Timestamp > _clock.Now.AddDays(-EventLimits.RetentionDays)));

        // The same day again: every event is a duplicate of itself.
        var again = await RunAsync("--workspace", ws);
        Assert.Equal(0, again.Exit);
        Assert.Contains("already has the demo trail; nothing added", again.Out, StringComparison.Ordinal);

        // A later day: the workspace is left as it is (no second trail, shifted by a day).
        _clock.Now = _clock.Now.AddDays(3);
        var later = await RunAsync("--workspace", ws);
        Assert.Contains("already has the demo trail; nothing added", later.Out, StringComparison.Ordinal);
        _clock.Now = _clock.Now.AddDays(-3);
        Assert.Equal(trail.Select(e => e.Id), (await TrailAsync(ws)).Select(e => e.Id));
    }

    [Fact]
    public async Task A_bad_workspace_id_or_argument_is_refused_without_writing()
    {
        var bad = await RunAsync("--workspace", "ws with spaces");
        var extra = await RunAsync("--workspace");

        Assert.Equal(2, bad.Exit);
        Assert.Contains("workspace id", bad.Out, StringComparison.Ordinal);
        Assert.Equal(2, extra.Exit);
    }
}
