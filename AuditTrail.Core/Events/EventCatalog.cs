namespace AuditTrail.Core.Events;

/// <summary>A product area and the event types it owns. <paramref name="FormerNames"/> are earlier names of the area.</summary>
public sealed record ProductArea(string Name, IReadOnlyList<string> FormerNames, IReadOnlyList<string> EventTypes);

public static partial class EventCatalog
{
    /// <summary>The area recorded for a well-formed event whose type is not in the catalog.</summary>
    public const string UncatalogedArea = "Uncataloged";


    /// <summary>The area of the trail's own records (tokens, exports, forwarding, digests): its types are reserved to the trail.</summary>
    public const string TrailArea = "Audit Trail";

    public static IReadOnlyList<ProductArea> Areas => AreaData;

    /// <summary>
    /// Whether only the trail may record <paramref name="type"/> (any capitalisation): a producer
    /// posting one could forge a revocation or a digest, so both doors refuse it.
    /// </summary>
    public static bool IsReserved(string type) =>
        Index.ByType.TryGetValue(type, out var entry) && entry.Area == TrailArea;

    /// <summary>
    /// Looks a type up case-insensitively and returns its catalog spelling, so filters see one
    /// name per type however a producer capitalised it.
    /// </summary>
    public static bool TryGet(string type, out string canonicalType, out string productArea)
    {
        if (Index.ByType.TryGetValue(type, out var entry))
        {
            canonicalType = entry.Type;
            productArea = entry.Area;
            return true;
        }
        canonicalType = type;
        productArea = UncatalogedArea;
        return false;
    }

    public static ProductArea? FindArea(string name) =>
        AreaData.FirstOrDefault(a => a.Name.Equals(name, StringComparison.OrdinalIgnoreCase)
                                     || a.FormerNames.Any(f => f.Equals(name, StringComparison.OrdinalIgnoreCase)));

    // A nested holder, so the index is built after AreaData (declared in the other part) exists:
    // static field initialisers of partial files run in an unspecified order.
    private static class Index
    {
        public static readonly Dictionary<string, (string Type, string Area)> ByType = BuildIndex();
    }

    private static Dictionary<string, (string, string)> BuildIndex()
    {
        var index = new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase);
        foreach (var area in AreaData)
        {
            foreach (var type in area.EventTypes)
            {
                index.TryAdd(type, (type, area.Name));
            }
        }
        return index;
    }
}
