using AuditTrail.Core.Events;

namespace AuditTrail.Tests.Events;

/// <summary>
/// The catalog is checked against the product page, every revision of it: the event types the
/// page lists, by area, are kept as test data (<c>ProductPageCatalog.tsv</c>), so the test needs
/// nothing outside the repository.
/// </summary>
public sealed class EventCatalogTests
{
    public static TheoryData<string, string> SeedEvents()
    {
        var data = new TheoryData<string, string>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Events", "ProductPageCatalog.tsv")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var fields = line.Split('\t');
            Assert.True(fields.Length == 2, $"'{line}' is not 'area<TAB>event type'.");
            data.Add(fields[1], fields[0]);
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
        // Guards the theory above against a data file that silently lost lines.
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
}
