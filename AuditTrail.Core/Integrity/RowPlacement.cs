using AuditTrail.Core.Trail;
using Azure.Data.Tables;

namespace AuditTrail.Core.Integrity;

/// <summary>
/// Where an event's four rows belong (<see cref="TrailKeys"/>), recomputed from a stored row's own
/// properties. The row hash leaves the keys out (an identical rewrite must hash the same), so a row
/// rekeyed or moved to another day keeps its hash; only comparing its keys with the keys its
/// properties give shows it. Costs no read: verification has every row in hand already.
/// </summary>
public sealed record EventPlace(string Partition, string Primary, string Actor, string Type, string Resource)
{
    /// <summary>The place the row's properties give, or null when it lacks one of them (no ingested row does).</summary>
    public static EventPlace? Of(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (EventRows.KeyValues(row) is not { } keys)
        {
            return null;
        }
        var (workspace, id, time, actor, type, resourceType, resourceId) = keys;
        var suffix = TrailKeys.EventSuffix(time, id);
        return new EventPlace(TrailKeys.PartitionKey(workspace, time), TrailKeys.PrimaryPrefix + suffix, TrailKeys.ActorRowKey(actor, suffix),
            TrailKeys.TypeRowKey(type, suffix), TrailKeys.ResourceRowKey(resourceType, resourceId, suffix));
    }

    /// <summary>The four rows, each with what it is for (the words findings use).</summary>
    public IEnumerable<(string Kind, string RowKey)> Rows =>
        [("primary", Primary), ("actor index", Actor), ("type index", Type), ("resource index", Resource)];

    /// <summary>Whether a row at these keys is one of this event's four.</summary>
    public bool Holds(string partitionKey, string rowKey) =>
        partitionKey == Partition && (rowKey == Primary || rowKey == Actor || rowKey == Type || rowKey == Resource);
}

/// <summary>One stored row as verification keeps it: where it sits, where its own properties put it, its hash and receive time.</summary>
internal sealed record TrailRow(string PartitionKey, string RowKey, string Hash, DateTimeOffset? ReceivedAt, EventPlace? Place)
{
    public static TrailRow Of(TableEntity row) =>
        new(row.PartitionKey, row.RowKey, Convert.ToHexStringLower(RowHash.Compute(row)), EventRows.ReceivedAt(row), EventPlace.Of(row));

    public bool Misplaced => Place is null || !Place.Holds(PartitionKey, RowKey);
}

/// <summary>Which list of the report an event goes to; an event goes to one, the first that applies.</summary>
internal enum EventVerdict
{
    Modified,
    Misplaced,
    Missing,
}

internal static class RowPlacement
{
    /// <summary>
    /// What is wrong with a recorded event whose rows are all as recorded (their hashes match), or null:
    /// a row not where its properties put it, or not one of the event's four, is <see cref="EventVerdict.Misplaced"/>
    /// (the rekeyed index row that hides the event from a filter, the primary row moved to another day);
    /// one of the four not where it belongs is <see cref="EventVerdict.Missing"/>.
    /// </summary>
    public static (EventVerdict Verdict, string Detail)? Check(IReadOnlyList<TrailRow> rows)
    {
        // All rows hash as recorded, so they hold the same properties: any row's place is the event's.
        var place = rows.Select(r => r.Place).FirstOrDefault(p => p is not null);
        if (place is null)
        {
            return (EventVerdict.Misplaced, "Its rows lack the properties that place them.");
        }
        var gone = place.Rows.Where(x => !rows.Any(r => r.PartitionKey == place.Partition && r.RowKey == x.RowKey))
            .Select(x => $"its {x.Kind} row {place.Partition}/{x.RowKey} is gone").ToList();
        var misplaced = rows.Where(r => r.Misplaced).Select(r => $"row {r.PartitionKey}/{r.RowKey} is not where its properties put it").ToList();
        if (misplaced.Count > 0)
        {
            return (EventVerdict.Misplaced, Sentence(misplaced.Concat(gone)));
        }
        return gone.Count > 0 ? (EventVerdict.Missing, Sentence(gone)) : null;
    }

    private static string Sentence(IEnumerable<string> parts)
    {
        var text = string.Join("; ", parts);
        return char.ToUpperInvariant(text[0]) + text[1..] + ".";
    }
}
