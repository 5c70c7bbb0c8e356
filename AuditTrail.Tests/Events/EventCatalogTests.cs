using System.Text.RegularExpressions;
using AuditTrail.Core.Events;
using AuditTrail.Tests.Infrastructure;

namespace AuditTrail.Tests.Events;

/// <summary>The catalog is checked against the product page itself, every revision of it.</summary>
public sealed partial class EventCatalogTests
{
    public static TheoryData<string, string> SeedEvents()
    {
        var data = new TheoryData<string, string>();
        var seeds = Path.Combine(AzuriteFixture.RepoRoot(), "..", "shared", "seeds");
        Assert.True(Directory.Exists(seeds), $"The product spec is expected beside the repository at {seeds}.");
        var seen = new HashSet<string>();
        foreach (var file in Directory.GetFiles(seeds, "*.txt").Order(StringComparer.Ordinal))
        {
            string? area = null;
            foreach (var raw in File.ReadLines(file))
            {
                var line = raw.Trim();
                var heading = Heading().Match(line);
                if (heading.Success)
                {
                    area = heading.Groups[1].Value.Trim();
                    continue;
                }
                // Revision 003 is a rendered page: area names stand alone on a line before their bullets.
                if (Path.GetFileName(file).StartsWith("003", StringComparison.Ordinal) && PlainHeading().IsMatch(line) && !line.StartsWith('•'))
                {
                    area = line;
                    continue;
                }
                var bullet = Bullet().Match(line);
                if (bullet.Success && area is not null && seen.Add(area + "|" + bullet.Groups[1].Value))
                {
                    data.Add(bullet.Groups[1].Value.Trim(), area);
                }
                else if (line.StartsWith("## ", StringComparison.Ordinal) || line.StartsWith("Audit forwarding", StringComparison.Ordinal))
                {
                    area = null;
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SeedEvents))]
    public void Every_event_on_every_revision_of_the_page_is_in_the_catalog_under_its_area(string eventType, string seedArea)
    {
        Assert.True(EventCatalog.TryGet(eventType, out var canonical, out var area), $"'{eventType}' ({seedArea}) is missing from the catalog.");
        Assert.Equal(eventType, canonical);
        // Personas is the former name of Engage.
        Assert.Equal(seedArea == "Personas" ? "Engage" : seedArea, area);
        Assert.Same(EventCatalog.FindArea(seedArea), EventCatalog.FindArea(area));
    }

    [Fact]
    public void Seed_scan_found_the_whole_catalog()
    {
        // Guards the theory above against a parser that silently finds nothing.
        Assert.True(SeedEvents().Count >= 110, $"Only {SeedEvents().Count} seed events were found.");
        // The app's own area ("Audit Trail": token lifecycle, exports, settings) is not on the product page.
        Assert.Equal(SeedEvents().Select(r => r.Data.Item1).Distinct().Count(), EventCatalog.Areas.Where(a => a.Name != "Audit Trail").Sum(a => a.EventTypes.Count));
    }

    [Theory]
    [InlineData("Sources")]
    [InlineData("Destinations")]
    [InlineData("Storage")]
    [InlineData("Consent Management")]
    [InlineData("Transformations")]
    [InlineData("Profiles Sync")]
    [InlineData("Journeys")]
    [InlineData("Broadcasts")]
    [InlineData("Workspace")]
    public void Product_areas_listed_without_events_are_in_the_catalog(string area)
    {
        Assert.NotNull(EventCatalog.FindArea(area));
    }

    [Fact]
    public void Lookup_ignores_case_and_returns_the_catalog_spelling()
    {
        Assert.True(EventCatalog.TryGet("source DISABLED", out var canonical, out var area));
        Assert.Equal("Source Disabled", canonical);
        Assert.Equal("Source", area);
    }

    [Fact]
    public void Unknown_type_is_reported_as_uncataloged_not_refused()
    {
        Assert.False(EventCatalog.TryGet("Warehouse Exploded", out var canonical, out var area));
        Assert.Equal("Warehouse Exploded", canonical);
        Assert.Equal(EventCatalog.UncatalogedArea, area);
    }

    [GeneratedRegex(@"^###\s+(.+)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^[A-Z][A-Za-z ]+$")]
    private static partial Regex PlainHeading();

    [GeneratedRegex(@"^[\*•]\s+(.+)$")]
    private static partial Regex Bullet();
}
