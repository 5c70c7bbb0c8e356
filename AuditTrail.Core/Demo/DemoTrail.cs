using System.Globalization;
using System.Text.Json.Nodes;
using AuditTrail.Core.Events;

namespace AuditTrail.Core.Demo;

/// <summary>
/// A realistic trail for a demo workspace: a few hundred events over the 90 days before
/// <c>anchor</c>, across the catalog's product areas, by a handful of people and two access
/// tokens, mostly in working hours on weekdays, with before/after changes. The same anchor and
/// workspace always give the same events (ids, times, content), so a replay is all duplicates.
/// </summary>
public static class DemoTrail
{
    public const string FirstEventId = "evt_demo_0000";

    private sealed record Actor(string Type, string Id, string Name, string? Email, double Weight);

    private sealed record Target(string Area, string ResourceType, (string Id, string Name)[] Resources, double Weight);

    private static readonly Actor[] Actors =
    [
        new("user", "usr_ada", "Ada Lovelace", "ada@example.com", 5),
        new("user", "usr_grace", "Grace Hopper", "grace@example.com", 4),
        new("user", "usr_alan", "Alan Turing", "alan@example.com", 3),
        new("user", "usr_katherine", "Katherine Johnson", "katherine@example.com", 2),
        new("user", "usr_edsger", "Edsger Dijkstra", "edsger@example.com", 1),
        new("token", "tok_ci_deploy", "CI deploy token", null, 3),
        new("token", "tok_terraform", "Terraform", null, 2),
    ];

    private static readonly Target[] Targets =
    [
        new("Source", "source", [("src_web", "Website"), ("src_ios", "iOS app"), ("src_android", "Android app"), ("src_backend", "Checkout service")], 6),
        new("Integrations", "integration", [("int_amplitude", "Amplitude"), ("int_braze", "Braze"), ("int_slack", "Slack alerts")], 3),
        new("Functions", "function", [("fn_enrich", "Enrich with CRM"), ("fn_pii", "Strip PII")], 2),
        new("Destination Filters", "destination_filter", [("df_no_test", "Drop test traffic"), ("df_eu", "EU only")], 2),
        new("Warehouses", "warehouse", [("wh_snowflake", "Snowflake (analytics)"), ("wh_bigquery", "BigQuery (marketing)")], 3),
        new("Protocols", "tracking_plan", [("tp_core", "Core events"), ("tp_checkout", "Checkout")], 4),
        new("Engage", "space", [("spc_prod", "Production space"), ("aud_churn", "Likely to churn"), ("ct_ltv", "Lifetime value")], 3),
        new("Schema Default", "schema", [("sch_web", "Website schema"), ("sch_ios", "iOS schema")], 2),
        new("Access Management", "user", [("usr_margaret", "Margaret Hamilton"), ("usr_barbara", "Barbara Liskov"), ("grp_eng", "Engineering")], 2),
    ];

    private static readonly string[] Fields = ["name", "enabled", "schedule", "settings.batchSize", "description", "owner"];

    private static readonly string[] Agents =
    [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "terraform-provider-audittrail/1.8.2",
        "github-actions/deploy",
    ];

    /// <summary>The events, oldest first, as a producer would send them.</summary>
    /// <param name="anchor">The end of the trail (exclusive); the start of the current UTC day makes a day's reruns identical.</param>
    public static IReadOnlyList<JsonObject> Generate(string workspaceId, DateTimeOffset anchor, int count = 360)
    {
        ArgumentNullException.ThrowIfNull(workspaceId);
        // Not a security use: a fixed seed is what makes the trail repeatable. One generator is
        // drawn from in a fixed order (the times, then each event in turn), so the steps below
        // must keep that order for the trail to stay the same.
        var random = new Random(19);
        var times = Times(random, anchor, count);
        var events = new List<JsonObject>(count);
        for (var i = 0; i < times.Count; i++)
        {
            events.Add(Event(random, workspaceId, i, times[i]));
        }
        return events;
    }

    /// <summary>When the events happened, sorted: 90 days before the anchor, weekends quiet, mostly in working hours.</summary>
    private static List<DateTimeOffset> Times(Random random, DateTimeOffset anchor, int count)
    {
#pragma warning disable CA5394
        var start = anchor.AddDays(-89);
        var times = new List<DateTimeOffset>(count);
        while (times.Count < count)
        {
            var day = start.AddDays(random.Next(89));
            // Weekends are quiet, and most changes happen in working hours (UTC 07-18).
            if (day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday && random.NextDouble() < 0.8)
            {
                continue;
            }
            var hour = random.NextDouble() < 0.85 ? 7 + random.Next(11) : random.Next(24);
            times.Add(day.Date.AddHours(hour).AddMinutes(random.Next(60)).AddSeconds(random.Next(60)) is var t ? new DateTimeOffset(t, TimeSpan.Zero) : default);
        }
#pragma warning restore CA5394
        times.Sort();
        return times;
    }

    /// <summary>Event <paramref name="index"/>: who did what to which resource, from where, with its changes or failure.</summary>
    private static JsonObject Event(Random random, string workspaceId, int index, DateTimeOffset time)
    {
#pragma warning disable CA5394
        var target = Pick(random, Targets, t => t.Weight);
        var actor = Pick(random, Actors, a => a.Weight);
        var area = EventCatalog.FindArea(target.Area)!;
        var type = area.EventTypes[random.Next(area.EventTypes.Count)];
        var (resourceId, resourceName) = target.Resources[random.Next(target.Resources.Length)];
        var e = new JsonObject
        {
            ["id"] = $"evt_demo_{index:D4}",
            ["workspaceId"] = workspaceId,
            ["type"] = type,
            ["timestamp"] = time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["actor"] = actor.Email is null
                ? new JsonObject { ["type"] = actor.Type, ["id"] = actor.Id, ["name"] = actor.Name }
                : new JsonObject { ["type"] = actor.Type, ["id"] = actor.Id, ["name"] = actor.Name, ["email"] = actor.Email },
            ["resource"] = new JsonObject { ["type"] = target.ResourceType, ["id"] = resourceId, ["name"] = resourceName },
            ["context"] = new JsonObject
            {
                ["ip"] = actor.Type == "token" ? "198.51.100." + (10 + random.Next(20)) : "203.0.113." + (1 + random.Next(200)),
                ["userAgent"] = actor.Type == "token" ? Agents[2 + random.Next(2)] : Agents[random.Next(2)],
                ["requestId"] = $"req_{random.Next(1 << 30):x8}",
            },
        };
        if (type.EndsWith("Modified", StringComparison.Ordinal) || type.EndsWith("Updated", StringComparison.Ordinal) || type.Contains("Edited", StringComparison.Ordinal))
        {
            e["changes"] = new JsonArray(Change(random, actor, resourceName));
        }
        else if (type.EndsWith("Failed", StringComparison.Ordinal) || type.Contains("Violations", StringComparison.Ordinal))
        {
            e["properties"] = new JsonObject { ["reason"] = random.NextDouble() < 0.5 ? "credentials rejected by the destination" : "timeout after 300 s", ["attempt"] = 1 + random.Next(3) };
        }
#pragma warning restore CA5394
        return e;
    }

    /// <summary>A before/after change of one field, as a modification of the resource shows it.</summary>
    private static JsonObject Change(Random random, Actor actor, string resourceName)
    {
#pragma warning disable CA5394
        var field = Fields[random.Next(Fields.Length)];
        return field switch
        {
            "enabled" => new JsonObject { ["field"] = field, ["before"] = true, ["after"] = false },
            "schedule" => new JsonObject { ["field"] = field, ["before"] = new JsonObject { ["every"] = "1h" }, ["after"] = new JsonObject { ["every"] = $"{2 + random.Next(10)}h" } },
            "settings.batchSize" => new JsonObject { ["field"] = field, ["before"] = 100, ["after"] = 100 * (2 + random.Next(8)) },
            "owner" => new JsonObject { ["field"] = field, ["before"] = "usr_ada", ["after"] = actor.Id },
            _ => new JsonObject { ["field"] = field, ["before"] = resourceName, ["after"] = resourceName + " (v" + (2 + random.Next(5)) + ")" },
        };
#pragma warning restore CA5394
    }

    private static T Pick<T>(Random random, T[] items, Func<T, double> weight)
    {
#pragma warning disable CA5394
        var at = random.NextDouble() * items.Sum(weight);
#pragma warning restore CA5394
        foreach (var item in items)
        {
            at -= weight(item);
            if (at < 0)
            {
                return item;
            }
        }
        return items[^1];
    }
}
