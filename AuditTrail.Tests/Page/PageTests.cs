using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuditTrail.Core.Access;
using AuditTrail.Core.Demo;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AuditTrail.Tests.Page;

/// <summary>
/// The Audit Trail page in headless Chromium against the app on Azurite: what an owner does with
/// it, end to end. Screenshots land in artifacts/page.
/// </summary>
[Collection(Export.ExportQueueGroup.Name)]
public sealed class PageTests(AzuriteFixture azurite, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string HostileName = "<img src=x onerror=\"window.__pwned=1\">";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// 60 Source Modified by Ada over the last 10 hours, then 8 by Bob (5 Warehouses Modified,
    /// 3 Source Modified), then one by an actor whose name is markup. With the owner token's own
    /// "Access Token Created", 70 events.
    /// </summary>
    private static (List<JsonObject> Events, List<string> BobIds, List<string> BobWarehouseIds) Seed(string ws, DateTimeOffset now)
    {
        var events = new List<JsonObject>();
        for (var i = 0; i < 60; i++)
        {
            var e = TestEvents.Event(ws, $"evt_ada_{i:D2}", "Source Modified", now.AddMinutes(-5 - 10 * i), actorId: "usr_ada", resourceId: "src_web");
            e["changes"] = new JsonArray(new JsonObject { ["field"] = "name", ["before"] = "Web", ["after"] = "Website" });
            events.Add(e);
        }
        var bob = new List<string>();
        var bobWarehouses = new List<string>();
        for (var j = 0; j < 8; j++)
        {
            var warehouse = j < 5;
            var id = $"evt_bob_{j}";
            var e = TestEvents.Event(ws, id, warehouse ? "Warehouses Modified" : "Source Modified", now.AddHours(-10).AddMinutes(-7 * j),
                actorId: "usr_bob", resourceType: warehouse ? "warehouse" : "source", resourceId: warehouse ? "wh_7" : "src_web");
            e["actor"]!["name"] = "Bob Builder";
            e["changes"] = new JsonArray(
                new JsonObject { ["field"] = "enabled", ["before"] = true, ["after"] = false },
                new JsonObject { ["field"] = "schedule", ["before"] = new JsonObject { ["every"] = "1h" }, ["after"] = null });
            events.Add(e);
            bob.Add(id);
            if (warehouse)
            {
                bobWarehouses.Add(id);
            }
        }
        var evil = TestEvents.Event(ws, "evt_hostile", "Source Deleted", now.AddHours(-11), actorId: "usr_evil");
        evil["actor"]!["name"] = HostileName;
        events.Add(evil);
        return (events, bob, bobWarehouses);
    }

    [Fact]
    public async Task Owner_signs_in_pages_filters_by_actor_type_and_date_opens_details_and_exports_the_view()
    {
        // Through the proxy, so the export's commit can be held while the page shows its progress.
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = await PageApp.StartAsync(azurite, Ct, storage: storage.ConnectionString);
        var now = DateTimeOffset.UtcNow;
        var (events, bobIds, bobWarehouseIds) = Seed(app.WorkspaceId, now);
        await app.IngestAsync(events, Ct);
        var page = await browser.NewPageAsync();
        var rows = page.Locator("#event-rows tr");

        // Sign in with the keyboard alone: the token field has focus, Enter submits.
        await page.GotoAsync(app.BaseUrl);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Owner access token")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(app.OwnerToken);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#who-workspace")).ToHaveTextAsync(app.WorkspaceId);

        // Newest first, a page of 50, then the rest.
        await Expect(rows).ToHaveCountAsync(50);
        await Expect(rows.First).ToContainTextAsync("Access Token Created");
        await Expect(rows.Nth(1)).ToContainTextAsync("Source Modified");
        await BrowserFixture.ScreenshotAsync(page, "01-trail", fullPage: false);
        await page.GetByRole(AriaRole.Button, new() { Name = "Load older events" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(70);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Load older events" })).ToBeHiddenAsync();
        await Expect(page.Locator("#summary")).ToHaveTextAsync("Showing 70 events, newest first.");

        // A producer's markup is shown as text, never run.
        await Expect(rows.Last).ToContainTextAsync(HostileName);
        Assert.Equal(0, await page.Locator("#event-rows img").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));

        // By actor: a click on a name in the list narrows the view to that actor, shown as a chip.
        var chips = page.GetByRole(AriaRole.Region, new() { Name = "Active filters" });
        await rows.Filter(new() { HasText = "usr_bob" }).First.GetByRole(AriaRole.Button, new() { Name = "Filter by actor Bob Builder" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(bobIds.Count);
        foreach (var row in await rows.AllAsync())
        {
            await Expect(row.Locator("td").Nth(2)).ToContainTextAsync("user · usr_bob");
        }
        await Expect(chips.GetByRole(AriaRole.Listitem)).ToHaveCountAsync(1);
        await Expect(chips.GetByRole(AriaRole.Button, new() { Name = "Remove filter Actor Bob Builder (usr_bob)" })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Actor id")).ToHaveValueAsync("usr_bob");
        await BrowserFixture.ScreenshotAsync(page, "02-filtered-by-actor");

        // The view is in the address (the token never is): opened in a new tab, it comes back as it was.
        Assert.EndsWith("#actorId=usr_bob", page.Url, StringComparison.Ordinal);
        var shared = await browser.NewPageAsync();
        await shared.GotoAsync(page.Url);
        await shared.GetByLabel("Owner access token").FillAsync(app.OwnerToken);
        await shared.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(shared.Locator("#event-rows tr")).ToHaveCountAsync(bobIds.Count);
        await Expect(shared.GetByLabel("Actor id")).ToHaveValueAsync("usr_bob");
        Assert.DoesNotContain(app.OwnerToken, shared.Url, StringComparison.Ordinal);
        await shared.Context.CloseAsync();

        // Removing the chip goes back to everything.
        await chips.GetByRole(AriaRole.Button, new() { Name = "Remove filter Actor Bob Builder (usr_bob)" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(50);
        await Expect(chips.GetByRole(AriaRole.Listitem)).ToHaveCountAsync(0);
        await Expect(page.GetByLabel("Actor id")).ToHaveValueAsync("");

        // By type, with the keyboard alone: the area narrows the list, typing narrows it more,
        // Down arrow reaches the matches, Space chooses one, and the view follows at once.
        await page.GetByLabel("Product area").SelectOptionAsync("Warehouses");
        await Expect(page.Locator("#type-list fieldset[data-area='Source']")).ToBeHiddenAsync();
        await page.GetByLabel("Event types").FocusAsync();
        await page.Keyboard.TypeAsync("wareh mod");
        await Expect(page.GetByRole(AriaRole.Group, new() { Name = "Type list" }).GetByRole(AriaRole.Checkbox)).ToHaveCountAsync(1, new() { Timeout = 5000 });
        var modified = page.GetByRole(AriaRole.Checkbox, new() { Name = "Warehouses Modified" });
        await Expect(modified).ToBeVisibleAsync();
        await page.Keyboard.PressAsync("ArrowDown");
        await Expect(modified).ToBeFocusedAsync();
        await BrowserFixture.ScreenshotAsync(page, "08-type-search", fullPage: false);
        await page.Keyboard.PressAsync("Space");
        await Expect(modified).ToBeCheckedAsync();
        await Expect(rows).ToHaveCountAsync(bobWarehouseIds.Count);
        foreach (var row in await rows.AllAsync())
        {
            await Expect(row.Locator("td").Nth(1)).ToContainTextAsync("Warehouses Modified");
        }
        await Expect(chips.GetByRole(AriaRole.Button, new() { Name = "Remove filter Type Warehouses Modified" })).ToBeVisibleAsync();
        Assert.Contains("type=Warehouses+Modified", page.Url, StringComparison.Ordinal);
        Assert.Contains("productArea=Warehouses", page.Url, StringComparison.Ordinal);

        // By resource, from the list too: it joins the filters already there.
        await rows.First.GetByRole(AriaRole.Button, new() { Name = "Filter by resource Website" }).ClickAsync();
        await Expect(chips.GetByRole(AriaRole.Button, new() { Name = "Remove filter Resource Website (warehouse wh_7)" })).ToBeVisibleAsync();
        await Expect(rows).ToHaveCountAsync(bobWarehouseIds.Count);
        Assert.Contains("resourceId=wh_7", page.Url, StringComparison.Ordinal);

        // Details: the changes, before and after; Escape closes and focus goes back.
        var details = page.GetByRole(AriaRole.Dialog);
        var opener = rows.First.GetByRole(AriaRole.Button, new() { Name = "Details of" });
        await opener.ClickAsync();
        await Expect(details).ToBeVisibleAsync();
        await Expect(details.GetByRole(AriaRole.Heading, new() { Name = "Warehouses Modified" })).ToBeVisibleAsync();
        var changes = details.Locator("#details-changes tbody tr");
        await Expect(changes).ToHaveCountAsync(2);
        await Expect(changes.Nth(0).Locator("td")).ToHaveTextAsync(["enabled", "true", "false"]);
        await Expect(changes.Nth(1).Locator("td")).ToHaveTextAsync(["schedule", "{\n  \"every\": \"1h\"\n}", "null"]);
        await Expect(details).ToContainTextAsync(bobWarehouseIds[0]);
        await BrowserFixture.ScreenshotAsync(page, "03-details", fullPage: false);
        await page.Keyboard.PressAsync("Escape");
        await Expect(details).ToBeHiddenAsync();
        await Expect(opener).ToBeFocusedAsync();

        // By date range (the context's time zone is UTC): the last hour holds Ada's six newest and the token event.
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(50);
        var hourAgo = now.AddHours(-1);
        await page.GetByLabel("From", new() { Exact = true }).FillAsync(hourAgo.AddSeconds(-hourAgo.Second).ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture));
        await Expect(rows).ToHaveCountAsync(7);

        // Export what is on screen: Bob's events, as the CSV the browser downloads. Typing an id applies it too.
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(50);
        await page.GetByLabel("Actor id").FillAsync("usr_bob");
        await Expect(rows).ToHaveCountAsync(bobIds.Count);
        // The export runs from the queue; its block list is held back until the page has shown the rows written so far.
        var commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        storage.OnRequest = r => r.Service == "blob" && r.Target.Contains("comp=blocklist", StringComparison.Ordinal) ? commit.Task : Task.CompletedTask;
        var download = await page.RunAndWaitForDownloadAsync(async () =>
        {
            await page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync();
            await Expect(page.Locator("#export-status")).ToContainTextAsync($"Exporting… {bobIds.Count} events written so far");
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Exporting…" })).ToBeDisabledAsync();
            await BrowserFixture.ScreenshotAsync(page, "04-exporting");
            commit.TrySetResult();
        });
        storage.OnRequest = null;
        var saved = Path.Combine(BrowserFixture.ArtifactsDirectory, "export-usr_bob.csv");
        await download.SaveAsAsync(saved);
        Assert.StartsWith($"audit-{app.WorkspaceId}-", download.SuggestedFilename, StringComparison.Ordinal);
        Assert.EndsWith(".csv", download.SuggestedFilename, StringComparison.Ordinal);
        var csv = CsvRows.Parse(await File.ReadAllTextAsync(saved, Ct));
        var header = csv[0].ToList();
        var data = csv.Skip(1).ToList();
        Assert.Equal(bobIds.OrderBy(x => x, StringComparer.Ordinal), data.Select(r => r[header.IndexOf("eventId")]).OrderBy(x => x, StringComparer.Ordinal));
        Assert.All(data, r => Assert.Equal("usr_bob", r[header.IndexOf("actorId")]));
        // Same order as the page: newest first.
        var shown = new List<string>();
        foreach (var row in await rows.AllAsync())
        {
            shown.Add((await row.Locator("time").GetAttributeAsync("datetime"))!);
        }
        Assert.Equal(shown, data.Select(r => r[header.IndexOf("timestamp")]));
        await Expect(page.Locator("#export-status")).ToContainTextAsync($"Exported {bobIds.Count} events");
        await BrowserFixture.ScreenshotAsync(page, "04-exported");
    }

    [Fact]
    public async Task Quick_ranges_set_the_dates_and_the_activity_chart_matches_the_api_and_narrows_to_a_clicked_day()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var now = DateTimeOffset.UtcNow;
        // 1 to 6 events on a spread of days, two actors; days 0-40 back.
        var events = new List<JsonObject>();
        int[] daysBack = [1, 2, 3, 5, 8, 13, 21, 34, 40];
        for (var d = 0; d < daysBack.Length; d++)
        {
            for (var i = 0; i <= d % 6; i++)
            {
                events.Add(TestEvents.Event(app.WorkspaceId, $"evt_day{daysBack[d]}_{i}", "Source Modified", now.AddDays(-daysBack[d]).AddMinutes(-3 * i), actorId: i % 2 == 0 ? "usr_ada" : "usr_bob"));
            }
        }
        await app.IngestAsync(events, Ct);
        var page = await browser.NewPageAsync();
        await SignInAsync(page, app);
        var rows = page.Locator("#event-rows tr");
        var chart = page.GetByRole(AriaRole.Img, new() { Name = "Activity" });
        await Expect(rows).ToHaveCountAsync(events.Count + 1);
        await Expect(chart).ToHaveAttributeAsync("aria-label", new Regex($"^Activity: {events.Count + 1} events from "));

        // Every bar is the API's count for its day, the whole 90-day window.
        async Task AssertBarsMatchApiAsync(string query)
        {
            var answer = JsonNode.Parse(await app.Http.GetStringAsync($"/api/workspaces/{app.WorkspaceId}/audit-events/activity?{query}", Ct))!;
            var expected = answer["value"]!.AsArray().Select(d => $"{d!["day"]}={d["count"]}").ToList();
            // The chart loads after the list, so the rows being right says nothing of the bars yet:
            // the previous view's chart can still be on screen with as many bars. Playwright polls
            // until the loaded chart shows the API's answer; on its timeout the assertion says what differs.
            const string Bars = "[...document.querySelectorAll('#activity:not([aria-busy]) g.day')].map(g => g.dataset.day + '=' + g.dataset.count)";
            try
            {
                await page.WaitForFunctionAsync($"expected => JSON.stringify({Bars}) === JSON.stringify(expected)", expected);
            }
            catch (TimeoutException)
            {
            }
            Assert.Equal(expected, await page.EvaluateAsync<string[]>($"() => {Bars}"));
        }
        await AssertBarsMatchApiAsync("");
        await BrowserFixture.ScreenshotAsync(page, "10-activity-chart", fullPage: false);

        // Last 7 days: From is a week ago (to the minute), Until is open; only that week's rows.
        var before = DateTimeOffset.UtcNow;
        await page.GetByRole(AriaRole.Button, new() { Name = "Last 7 days" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Last 7 days" })).ToHaveAttributeAsync("aria-pressed", "true");
        var from = await page.GetByLabel("From", new() { Exact = true }).InputValueAsync();
        var fromTime = DateTimeOffset.ParseExact(from, "yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.InRange(fromTime, before.AddDays(-7).AddMinutes(-2), DateTimeOffset.UtcNow.AddDays(-7));
        await Expect(page.GetByLabel("Until", new() { Exact = true })).ToHaveValueAsync("");
        var inWeek = events.Count(e => DateTimeOffset.Parse(e["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture) >= fromTime) + 1;
        await Expect(rows).ToHaveCountAsync(inWeek);
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Active filters" }).GetByRole(AriaRole.Button, new() { Name = "Remove filter From" })).ToBeVisibleAsync();
        await AssertBarsMatchApiAsync("start=" + Uri.EscapeDataString(fromTime.ToString("O", CultureInfo.InvariantCulture)));
        Assert.Contains("start=", page.Url, StringComparison.Ordinal);
        await BrowserFixture.ScreenshotAsync(page, "11-last-7-days", fullPage: false);

        // A click on a day's bar: the range is that UTC day, and the list is that day's events.
        var day = now.AddDays(-3).UtcDateTime.Date;
        var dayText = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        await page.Locator($"#activity g.day[data-day='{dayText}']").ClickAsync();
        await Expect(page.GetByLabel("From", new() { Exact = true })).ToHaveValueAsync(dayText + "T00:00");
        await Expect(page.GetByLabel("Until", new() { Exact = true })).ToHaveValueAsync(day.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00");
        var onDay = events.Count(e => DateTimeOffset.Parse(e["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture).UtcDateTime.Date == day);
        await Expect(rows).ToHaveCountAsync(onDay);
        await Expect(page.Locator("#activity g.day")).ToHaveCountAsync(1);
        await Expect(page.Locator("#activity g.day")).ToHaveAttributeAsync("data-count", onDay.ToString(CultureInfo.InvariantCulture));

        // With an actor chosen, the chart counts that actor only.
        await rows.Filter(new() { HasText = "usr_bob" }).First.GetByRole(AriaRole.Button, new() { Name = "Filter by actor" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(events.Count(e => DateTimeOffset.Parse(e["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture).UtcDateTime.Date == day && e["actor"]!["id"]!.GetValue<string>() == "usr_bob"));
        await AssertBarsMatchApiAsync($"start={dayText}T00:00:00.000Z&end={day.AddDays(1):yyyy-MM-dd}T00:00:00.000Z&actorId=usr_bob");

        // Times say their zone and how long ago; the exact instant is on hover and focus.
        var time = rows.First.Locator("time");
        await Expect(time).ToHaveTextAsync(new Regex("ago$"));
        await Expect(rows.First.Locator("td").First).ToContainTextAsync("UTC");
        Assert.Contains(await time.GetAttributeAsync("datetime") ?? "", await time.GetAttributeAsync("title") ?? "", StringComparison.Ordinal);
        await time.FocusAsync();
        Assert.Contains((await time.GetAttributeAsync("datetime"))!, await time.EvaluateAsync<string>("t => getComputedStyle(t, '::after').content"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Event_link_opens_its_details_and_copy_json_gives_the_apis_json()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        const string id = "evt a&b#1/ü";
        var e = TestEvents.Event(app.WorkspaceId, id, "Warehouses Modified", DateTimeOffset.UtcNow.AddHours(-2), actorId: "usr_ada", resourceType: "warehouse", resourceId: "wh_1");
        e["actor"]!["name"] = HostileName;
        e["properties"] = new JsonObject { ["ratio"] = 1.50, ["note"] = "<b>bold</b>" };
        await app.IngestAsync([e], Ct);
        var apiJson = await app.Http.GetStringAsync($"/api/workspaces/{app.WorkspaceId}/audit-events/{Uri.EscapeDataString(id)}", Ct);

        var page = await browser.NewPageAsync();
        await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new() { Origin = app.BaseUrl });
        await page.GotoAsync(app.BaseUrl + "#event=" + Uri.EscapeDataString(id));
        await page.GetByLabel("Owner access token").FillAsync(app.OwnerToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        var details = page.GetByRole(AriaRole.Dialog);
        await Expect(details).ToBeVisibleAsync();
        await Expect(details.GetByRole(AriaRole.Heading, new() { Name = "Warehouses Modified" })).ToBeVisibleAsync();
        await Expect(details).ToContainTextAsync(id);
        await Expect(details).ToContainTextAsync(HostileName);
        // Where it came from, as the trail recorded it: posted by a producer, not the trail's own record.
        await Expect(details.Locator("dt:text-is('Source') + dd")).ToHaveTextAsync("api (posted to the HTTP API)");
        Assert.Equal(0, await details.Locator("img, b").CountAsync());

        await details.GetByRole(AriaRole.Button, new() { Name = "Copy JSON" }).ClickAsync();
        await Expect(details.GetByRole(AriaRole.Status)).ToHaveTextAsync("JSON copied.");
        Assert.Equal(apiJson, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        await details.GetByRole(AriaRole.Button, new() { Name = "Copy link" }).ClickAsync();
        await Expect(details.GetByRole(AriaRole.Status)).ToHaveTextAsync("Link copied.");
        var link = await page.EvaluateAsync<string>("() => navigator.clipboard.readText()");
        Assert.Equal(app.BaseUrl + "/#event=" + Uri.EscapeDataString(id), link);

        // The raw view is the same event, formatted; markup in it stays text.
        await details.GetByText("Raw JSON").ClickAsync();
        var raw = details.GetByLabel("Raw JSON of the event");
        await Expect(raw).ToBeVisibleAsync();
        Assert.Equal(JsonNode.Parse(apiJson)!.ToJsonString(), JsonNode.Parse(await raw.TextContentAsync() ?? "")!.ToJsonString());
        await BrowserFixture.ScreenshotAsync(page, "12-event-link-raw-json", fullPage: false);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));

        // The link itself works in a fresh tab, and closing the details takes event= out of the address.
        var other = await browser.NewPageAsync();
        await other.GotoAsync(link);
        await other.GetByLabel("Owner access token").FillAsync(app.OwnerToken);
        await other.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(other.GetByRole(AriaRole.Dialog)).ToContainTextAsync(id);
        await other.Keyboard.PressAsync("Escape");
        await Expect(other.GetByRole(AriaRole.Dialog)).ToBeHiddenAsync();
        Assert.DoesNotContain("event=", other.Url, StringComparison.Ordinal);

        // A link to an event the workspace does not have says so.
        await other.GotoAsync(app.BaseUrl + "/#event=evt_missing");
        await Expect(other.Locator("#error-text")).ToContainTextAsync("does not have");
        await other.Context.CloseAsync();
    }

    [Fact]
    public async Task Integrity_says_the_range_verified_and_when_sealed_then_names_an_event_edited_in_storage()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var app = await PageApp.StartAsync(azurite, Ct, clock);
        var events = Enumerable.Range(0, 3).Select(i => TestEvents.Event(app.WorkspaceId, $"evt_sealed_{i}", timestamp: clock.Now.AddMinutes(-5 - i), actorId: "usr_ada")).ToList();
        await app.IngestAsync(events, Ct);
        // Past the sealing delay, then seal this workspace as the hourly timer would.
        clock.Now += new AuditTrail.Core.Integrity.IntegrityOptions().SealDelay + TimeSpan.FromMinutes(1);
        await app.App.Services.GetRequiredService<AuditTrail.Core.Integrity.DigestSealer>().SealAsync(app.WorkspaceId, Ct);

        var page = await browser.NewPageAsync();
        await SignInAsync(page, app);
        var integrity = page.GetByRole(AriaRole.Region, new() { Name = "Integrity" });
        // The three events and the owner token's own record, in one digest.
        await Expect(integrity).ToContainTextAsync("verified intact. 4 events received in this range, in 1 signed digest");
        await Expect(integrity).ToContainTextAsync("Last digest sealed");
        await Expect(integrity.Locator("time")).ToHaveAttributeAsync("datetime", new Regex("^" + clock.Now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture)));

        // Someone with storage access rewrites who did it; Refresh checks again.
        using var clients = azurite.CreateClients();
        var table = clients.Tables.GetTableClient(AuditTrail.Core.Trail.TrailTables.EventsTable);
        var ws = app.WorkspaceId;
        var row = await table.QueryAsync<Azure.Data.Tables.TableEntity>(Azure.Data.Tables.TableClient.CreateQueryFilter(
            $"PartitionKey ge {ws + "_"} and PartitionKey lt {ws + "`"} and EventId eq {"evt_sealed_1"}"), cancellationToken: Ct).FirstAsync(Ct);
        row["ActorName"] = "Mallory";
        await table.UpdateEntityAsync(row, row.ETag, Azure.Data.Tables.TableUpdateMode.Replace, Ct);
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();

        await Expect(integrity).ToContainTextAsync("NOT intact — 1 modified");
        await Expect(integrity.GetByRole(AriaRole.Listitem)).ToContainTextAsync("Modified: evt_sealed_1");
        await BrowserFixture.ScreenshotAsync(page, "14-integrity-not-intact", fullPage: false);
    }

    [Fact]
    public async Task Demo_trail_fills_the_page_on_a_first_run()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var seeded = await app.App.Services.GetRequiredService<DemoTrailSeeder>().SeedAsync(app.WorkspaceId, Ct);
        var page = await browser.NewPageAsync();
        await SignInAsync(page, app);

        await Expect(page.Locator("#event-rows tr")).ToHaveCountAsync(50);
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Activity" }))
            .ToHaveAttributeAsync("aria-label", new Regex($"^Activity: {seeded.Accepted + 1} events from "));
        await BrowserFixture.ScreenshotAsync(page, "13-demo-trail", fullPage: false);
    }

    [Fact]
    public async Task Narrow_window_collapses_the_filters_behind_a_button_and_stacks_them_above_the_trail_without_sideways_scrolling()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var (events, _, _) = Seed(app.WorkspaceId, DateTimeOffset.UtcNow);
        await app.IngestAsync(events.Take(12), Ct);
        var page = await browser.NewPageAsync(390, 844);
        await SignInAsync(page, app);
        await Expect(page.Locator("#event-rows tr")).ToHaveCountAsync(13);

        // Under 760 px the filters wait behind a button, so the trail is on the first screen.
        var toggle = page.GetByRole(AriaRole.Button, new() { Name = "Filters", Exact = true });
        await Expect(page.Locator("#filters")).ToBeHiddenAsync();
        await Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");
        await BrowserFixture.ScreenshotAsync(page, "09-narrow-filters-collapsed", fullPage: false);
        await toggle.ClickAsync();
        await Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Last 24 hours" })).ToBeFocusedAsync();
        await Expect(page.Locator("#filters")).ToBeVisibleAsync();

        var filters = (await page.Locator("#filters").BoundingBoxAsync())!;
        var results = (await page.Locator("#results").BoundingBoxAsync())!;
        Assert.True(filters.Y + filters.Height <= results.Y, "The filters should sit above the trail in a narrow window.");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "The page scrolls sideways at 390 px.");
        await page.Locator("#results").ScrollIntoViewIfNeededAsync();
        await BrowserFixture.ScreenshotAsync(page, "05-narrow", fullPage: false);
    }

    [Fact]
    public async Task Expired_token_sends_the_owner_back_to_sign_in_saying_why()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var app = await PageApp.StartAsync(azurite, Ct, clock);
        var (_, shortLived) = await app.Tokens.CreateAsync(app.WorkspaceId, Roles.Owner, clock.Now.AddHours(1), "short-lived", Ct);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(app.BaseUrl);
        await page.GetByLabel("Owner access token").FillAsync(shortLived);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#event-rows tr")).Not.ToHaveCountAsync(0);

        clock.Now = clock.Now.AddHours(2);
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-in-message")).ToHaveTextAsync("Your access token has expired. Sign in with a new owner token.");
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('auditTrail.token')"));
    }

    [Fact]
    public async Task Ingest_token_and_a_mistyped_token_are_refused_at_sign_in()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var (_, ingest) = await app.Tokens.CreateAsync(app.WorkspaceId, Roles.Ingest, null, "producer", Ct);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(app.BaseUrl);

        await page.GetByLabel("Owner access token").FillAsync(ingest);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#sign-in-message")).ToContainTextAsync("This token has the ingest role.");
        await Expect(page.Locator("#trail")).ToBeHiddenAsync();

        await page.GetByLabel("Owner access token").FillAsync(app.OwnerToken[..^2]);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#sign-in-message")).ToHaveTextAsync("That access token is not valid. Check that it was copied whole.");
        await Expect(page.Locator("#trail")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task No_results_a_refused_filter_and_a_failing_server_each_say_what_to_do()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var page = await browser.NewPageAsync();
        await SignInAsync(page, app);
        var rows = page.Locator("#event-rows tr");
        await Expect(rows).ToHaveCountAsync(1); // the owner token's own creation

        await page.GetByLabel("Actor id").FillAsync("usr_nobody");
        await page.GetByLabel("Actor id").PressAsync("Enter");
        await Expect(page.Locator("#empty")).ToBeVisibleAsync();
        await Expect(page.Locator("#empty")).ToHaveTextAsync("No events match these filters. Widen the date range or clear a filter.");
        await Expect(rows).ToHaveCountAsync(0);

        // The server's own refusal, shown on the field it names.
        await page.GetByLabel("Actor id").FillAsync("");
        await page.GetByLabel("Until", new() { Exact = true }).FillAsync("2026-01-01T10:00");
        await page.GetByLabel("From", new() { Exact = true }).FillAsync("2026-01-02T10:00");
        await Expect(page.Locator("#error")).ToBeVisibleAsync();
        await Expect(page.Locator("#error-text")).ToContainTextAsync("'start' must be earlier than 'end'");
        await Expect(page.Locator("#retry")).ToBeHiddenAsync();
        await Expect(page.GetByLabel("From", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.GetByLabel("From", new() { Exact = true })).ToBeFocusedAsync();

        // The service unreachable (the browser's connection fails), then back: Try again recovers.
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await page.RouteAsync("**/audit-events?**", route => route.AbortAsync("connectionreset"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        await Expect(page.Locator("#error-text")).ToContainTextAsync("could not be reached");
        await Expect(page.Locator("#retry")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "06-unreachable");
        await page.UnrouteAllAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Try again" }).ClickAsync();
        await Expect(page.Locator("#error")).ToBeHiddenAsync();
        await Expect(rows).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task Load_older_events_is_hidden_after_a_search_that_failed_or_was_refused()
    {
        await using var app = await PageApp.StartAsync(azurite, Ct);
        var now = DateTimeOffset.UtcNow;
        await app.IngestAsync(Enumerable.Range(0, 60).Select(i => TestEvents.Event(app.WorkspaceId, $"evt_more_{i:D2}", timestamp: now.AddMinutes(-2 - i))), Ct);
        var page = await browser.NewPageAsync();
        await SignInAsync(page, app);
        var rows = page.Locator("#event-rows tr");
        var loadOlder = page.GetByRole(AriaRole.Button, new() { Name = "Load older events" });
        await Expect(rows).ToHaveCountAsync(50);
        await Expect(loadOlder).ToBeVisibleAsync();

        // The service answers 503 (storage unavailable) to the next search.
        await page.RouteAsync("**/audit-events?**", route => route.FulfillAsync(new()
        {
            Status = 503,
            ContentType = "application/problem+json",
            Headers = new Dictionary<string, string> { ["Retry-After"] = "5" },
            Body = "{\"type\":\"about:blank\",\"title\":\"Storage unavailable\",\"status\":503,\"code\":\"storage_unavailable\",\"detail\":\"Audit storage is not reachable right now. Try again in 5 seconds.\"}",
        }));
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        await Expect(page.Locator("#error")).ToBeVisibleAsync();
        await Expect(rows).ToHaveCountAsync(0);
        await Expect(loadOlder).ToBeHiddenAsync();
        await Expect(page.Locator("#empty")).ToBeHiddenAsync();

        await page.UnrouteAllAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Try again" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(50);
        await Expect(loadOlder).ToBeVisibleAsync();

        // The server refuses the filters (400 naming 'start').
        await page.GetByLabel("Until", new() { Exact = true }).FillAsync("2026-01-01T10:00");
        await page.GetByLabel("From", new() { Exact = true }).FillAsync("2026-01-02T10:00");
        await Expect(page.Locator("#error-text")).ToContainTextAsync("'start' must be earlier than 'end'");
        await Expect(rows).ToHaveCountAsync(0);
        await Expect(loadOlder).ToBeHiddenAsync();
    }

    [Fact]
    public async Task Storage_outage_shows_the_services_own_answer_and_try_again_recovers()
    {
        await using var storage = new FaultyStorage(azurite.ConnectionString);
        await using var app = await PageApp.StartAsync(azurite, Ct, storage: storage.ConnectionString);
        var page = await browser.NewPageAsync();
        await SignInAsync(page, app);
        var rows = page.Locator("#event-rows tr");
        await Expect(rows).ToHaveCountAsync(1);

        // Storage throttles every read of the trail (tokens still check): the app's retries give up.
        storage.Faults = r => r.Method == "GET" && r.Touches("AuditEvents") ? new Fault(FaultKind.ServerBusy) : null;
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        await Expect(page.Locator("#error-text")).ToContainTextAsync("Audit storage is not reachable right now");
        await Expect(page.Locator("#error-text")).ToContainTextAsync("Try again in 5 seconds.");
        await Expect(rows).ToHaveCountAsync(0);
        await BrowserFixture.ScreenshotAsync(page, "07-storage-unavailable", fullPage: false);
        Assert.Contains(storage.Seen, s => s.Fault == FaultKind.ServerBusy);

        storage.Faults = _ => null;
        await page.GetByRole(AriaRole.Button, new() { Name = "Try again" }).ClickAsync();
        await Expect(page.Locator("#error")).ToBeHiddenAsync();
        await Expect(rows).ToHaveCountAsync(1);
    }

    private static async Task SignInAsync(IPage page, PageApp app)
    {
        await page.GotoAsync(app.BaseUrl);
        await page.GetByLabel("Owner access token").FillAsync(app.OwnerToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#who-workspace")).ToHaveTextAsync(app.WorkspaceId);
    }
}
