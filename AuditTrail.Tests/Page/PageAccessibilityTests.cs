using System.Text.Json;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AuditTrail.Tests.Page;

/// <summary>
/// An accessibility engine (axe-core, pinned in package-lock.json) over the page in each state an
/// owner meets: signed out, the trail with its chart, an event's details, and a 390 px window with
/// the filters open. No serious or critical violation of WCAG 2.1 A/AA or axe's best practices.
/// </summary>
[Collection(Export.ExportQueueGroup.Name)]
public sealed class PageAccessibilityTests(AzuriteFixture azurite, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

    [Fact]
    public async Task Page_has_no_serious_or_critical_violation_signed_out_on_the_trail_in_details_or_narrow_with_filters_open()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var now = DateTimeOffset.UtcNow;
        await app.IngestAsync(Enumerable.Range(0, 12).Select(i => TestEvents.Event(app.WorkspaceId, $"evt_a11y_{i:D2}", "Source Modified",
            now.AddDays(-i).AddMinutes(-5), actorId: i % 2 == 0 ? "usr_ada" : "usr_bob")), Ct);
        var page = await browser.NewPageAsync();

        await page.GotoAsync(app.BaseUrl);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await AssertNoSeriousViolationAsync(page, "sign-in");

        await page.GetByLabel("Owner access token").FillAsync(app.OwnerToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        var rows = page.Locator("#event-rows tr");
        await Expect(rows).ToHaveCountAsync(13);
        await Expect(page.Locator("#activity:not([aria-busy]) g.day").First).ToBeAttachedAsync();
        await Expect(page.Locator("#integrity:not([aria-busy])")).ToHaveAttributeAsync("data-state", "intact");
        await AssertNoSeriousViolationAsync(page, "the trail with its chart");

        await rows.Filter(new() { HasText = "usr_ada" }).First.GetByRole(AriaRole.Button, new() { Name = "Details of" }).ClickAsync();
        var details = page.GetByRole(AriaRole.Dialog);
        await Expect(details.GetByRole(AriaRole.Button, new() { Name = "Copy JSON" })).ToBeEnabledAsync();
        // The links that narrow the view say what they show first (WCAG 2.5.3, label in name).
        await Expect(details.GetByRole(AriaRole.Button, new() { Name = "Show only this actor" })).ToHaveAccessibleNameAsync("Show only this actor (Ada Lovelace)");
        await Expect(details.GetByRole(AriaRole.Button, new() { Name = "Show only this resource" })).ToHaveAccessibleNameAsync("Show only this resource (Website)");
        await AssertNoSeriousViolationAsync(page, "an event's details");

        var narrow = await browser.NewPageAsync(390, 844);
        await narrow.GotoAsync(app.BaseUrl);
        await narrow.GetByLabel("Owner access token").FillAsync(app.OwnerToken);
        await narrow.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(narrow.Locator("#event-rows tr")).ToHaveCountAsync(13);
        await narrow.GetByRole(AriaRole.Button, new() { Name = "Filters", Exact = true }).ClickAsync();
        await Expect(narrow.Locator("#filters")).ToBeVisibleAsync();
        await Expect(narrow.Locator("#activity:not([aria-busy]) g.day").First).ToBeAttachedAsync();
        await AssertNoSeriousViolationAsync(narrow, "390 px with the filters open");
        await narrow.Context.CloseAsync();
    }

    /// <summary>
    /// Runs axe-core in the page as it is, under the page's own policy: Playwright evaluates the
    /// script through the browser's debugging protocol, which no Content-Security-Policy governs
    /// (a script tag would be inline, which the policy refuses).
    /// </summary>
    private static async Task AssertNoSeriousViolationAsync(IPage page, string state)
    {
        if (!await page.EvaluateAsync<bool>("() => typeof window.axe === 'object'"))
        {
            await page.EvaluateAsync(await File.ReadAllTextAsync(AxeScript, Ct));
        }
        var result = await page.EvaluateAsync<JsonElement>(
            "tags => axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })" +
            ".then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) })))",
            Tags);
        var serious = result.EnumerateArray()
            .Where(v => v.GetProperty("impact").GetString() is "serious" or "critical")
            .Select(v => $"{v.GetProperty("impact")} {v.GetProperty("id")} ({v.GetProperty("help")}):\n    " +
                         string.Join("\n    ", v.GetProperty("nodes").EnumerateArray().Select(n => n.GetString())))
            .ToList();
        Assert.True(serious.Count == 0, $"axe-core finds, {state}:\n  {string.Join("\n  ", serious)}");
    }

    private static string AxeScript { get; } = FindAxe();

    private static string FindAxe()
    {
        var path = Path.Combine(AzuriteFixture.RepoRoot(), "node_modules", "axe-core", "axe.min.js");
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"axe-core is not installed ({path}). Run scripts/test, or npm ci, to install it from package-lock.json.");
    }
}
