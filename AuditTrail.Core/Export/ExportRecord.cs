using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AuditTrail.Core.Query;
using AuditTrail.Core.Storage;
using Azure.Data.Tables;

namespace AuditTrail.Core.Export;

/// <summary>The states an export goes through: queued, running, then succeeded or failed.</summary>
public static class ExportStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    public static bool IsFinal(string status) => status is Succeeded or Failed;
}

/// <summary>
/// An export's row in table <c>AuditExports</c> (PartitionKey = workspace, RowKey = export id): what
/// to export, and how far it got. The checkpoint is the rows and bytes in the staged blocks, the
/// query position just after the last of those rows, and the staged blocks themselves, named by the
/// run that staged them (<see cref="Blocks"/>), so a run that resumes continues exactly where the
/// last checkpoint ends and a row is never in two committed blocks.
/// </summary>
public sealed record ExportRecord(
    string WorkspaceId, string Id, string Status, string BlobName, string FileName,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset UpdatedAt,
    AuditQuery Query, ExportActor Actor)
{
    /// <summary>Data rows in the staged blocks.</summary>
    public long RowCount { get; init; }

    public long ByteSize { get; init; }

    /// <summary>The staged blocks in order, as runs: <c>run:count;run:count</c> (a run's blocks are consecutive).</summary>
    public string Blocks { get; init; } = string.Empty;

    /// <summary>Where the query goes on after the staged blocks' last row; null before the first block and once all are staged.</summary>
    public QueryPosition? Position { get; init; }

    /// <summary>Every row is in a staged block: what is left is the commit, the audit event and the final status.</summary>
    public bool Staged { get; init; }

    /// <summary>When the last block was staged: the audit event's timestamp, fixed so a retried record is the same event.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    public string? FailureReason { get; init; }

    public int BlockCount => Runs().Sum(r => r.Count);

    /// <summary>Block ids in order. Each is <c>{run}{index:D6}</c> (14 ASCII characters, base64): the same length for every block, as a blob requires.</summary>
    public IReadOnlyList<string> BlockIds()
    {
        var ids = new List<string>();
        foreach (var (run, count) in Runs())
        {
            for (var i = 0; i < count; i++)
            {
                ids.Add(BlockId(run, ids.Count));
            }
        }
        return ids;
    }

    public static string BlockId(string run, int index) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{run}{index:D6}")));

    /// <summary>This record with one more block staged by <paramref name="run"/>.</summary>
    public ExportRecord WithBlock(string run, long rows, long bytes, QueryPosition? next, DateTimeOffset now)
    {
        var runs = Runs();
        if (runs.Count > 0 && runs[^1].Run == run)
        {
            runs[^1] = (run, runs[^1].Count + 1);
        }
        else
        {
            runs.Add((run, 1));
        }
        return this with
        {
            Status = ExportStatus.Running,
            RowCount = RowCount + rows,
            ByteSize = ByteSize + bytes,
            Blocks = string.Join(';', runs.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Run}:{r.Count}"))),
            Position = next,
            Staged = next is null,
            CompletedAt = next is null ? now : null,
            UpdatedAt = now,
        };
    }

    private List<(string Run, int Count)> Runs() =>
        Blocks.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(r => r.Split(':'))
            .Select(p => (p[0], int.Parse(p[1], NumberStyles.None, CultureInfo.InvariantCulture)))
            .ToList();

    /// <summary>
    /// The status as shown: a queued or running export whose row has not moved for
    /// <paramref name="stalledAfter"/> has lost its work and counts as failed.
    /// </summary>
    public bool IsStalled(DateTimeOffset now, TimeSpan stalledAfter) => !ExportStatus.IsFinal(Status) && UpdatedAt + stalledAfter < now;

    public static string StalledReason(TimeSpan stalledAfter) => string.Create(CultureInfo.InvariantCulture,
        $"The export made no progress for {stalledAfter.TotalMinutes:F0} minutes: its work was lost (for example while storage was unavailable). Create a new one.");

    public TableEntity ToEntity() => TableRows.Create(WorkspaceId, Id,
        ("Status", Status),
        ("BlobName", BlobName),
        ("FileName", FileName),
        ("CreatedAt", CreatedAt),
        ("ExpiresAt", ExpiresAt),
        ("UpdatedAt", UpdatedAt),
        ("Filters", Filters(Query).ToJsonString()),
        ("ActorType", Actor.Type),
        ("ActorId", Actor.Id),
        ("ActorName", Actor.Name),
        ("RowCount", RowCount),
        ("ByteSize", ByteSize),
        ("Blocks", Blocks.Length == 0 ? null : Blocks),
        ("PositionDay", Position?.Day),
        ("PositionRowKey", Position?.AfterRowKey),
        ("Staged", Staged),
        ("CompletedAt", CompletedAt),
        ("FailureReason", FailureReason));

    /// <summary>The workspace's exports that are queued or running.</summary>
    public static string UnfinishedFilter(string workspaceId) =>
        TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and (Status eq {ExportStatus.Queued} or Status eq {ExportStatus.Running})");

    /// <summary>The columns <see cref="Progress"/> reads (and the status).</summary>
    public static IReadOnlyList<string> ProgressColumns { get; } = ["Status", "CreatedAt", "UpdatedAt", "ExpiresAt"];

    /// <summary>When an export row was created, last moved and expires, as stored (null: not stored).</summary>
    public static (DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt, DateTimeOffset? ExpiresAt) Progress(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return (row.GetDateTimeOffset("CreatedAt"), row.GetDateTimeOffset("UpdatedAt"), row.GetDateTimeOffset("ExpiresAt"));
    }

    public static ExportRecord FromEntity(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var createdAt = row.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue;
        var day = row.GetString("PositionDay");
        return new ExportRecord(row.PartitionKey, row.RowKey, row.GetString("Status") ?? ExportStatus.Failed,
            row.GetString("BlobName") ?? string.Empty, row.GetString("FileName") ?? string.Empty,
            createdAt, row.GetDateTimeOffset("ExpiresAt") ?? createdAt, row.GetDateTimeOffset("UpdatedAt") ?? createdAt,
            ParseFilters(row.PartitionKey, row.GetString("Filters")),
            new ExportActor(row.GetString("ActorType") ?? "system", row.GetString("ActorId") ?? "unknown", row.GetString("ActorName")))
        {
            RowCount = row.GetInt64("RowCount") ?? 0,
            ByteSize = row.GetInt64("ByteSize") ?? 0,
            Blocks = row.GetString("Blocks") ?? string.Empty,
            Position = day is null ? null : new QueryPosition(day, row.GetString("PositionRowKey") ?? string.Empty),
            Staged = row.GetBoolean("Staged") ?? false,
            CompletedAt = row.GetDateTimeOffset("CompletedAt"),
            FailureReason = row.GetString("FailureReason"),
        };
    }

    /// <summary>The filters as the audit event and the row hold them, with the window resolved.</summary>
    public static JsonObject Filters(AuditQuery q)
    {
        ArgumentNullException.ThrowIfNull(q);
        return new()
        {
            ["start"] = q.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            ["end"] = q.End.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            ["type"] = new JsonArray(q.Types.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            ["productArea"] = q.ProductArea,
            ["actorId"] = q.ActorId,
            ["actorType"] = q.ActorType,
            ["resourceType"] = q.ResourceType,
            ["resourceId"] = q.ResourceId,
        };
    }

    private static AuditQuery ParseFilters(string workspaceId, string? json)
    {
        var f = JsonNode.Parse(json ?? "{}")!.AsObject();
        static DateTimeOffset Time(JsonNode? n) => DateTimeOffset.Parse(n!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        return new AuditQuery(workspaceId, Time(f["start"]), Time(f["end"]),
            f["type"]?.AsArray().Select(t => t!.GetValue<string>()).ToList() ?? [],
            f["productArea"]?.GetValue<string>(), f["actorId"]?.GetValue<string>(), f["actorType"]?.GetValue<string>(),
            f["resourceType"]?.GetValue<string>(), f["resourceId"]?.GetValue<string>(), AuditQuery.MaxLimit);
    }
}
