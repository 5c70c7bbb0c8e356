using System.Text;
using System.Text.Json.Nodes;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Forwarding;

/// <summary>What a resend did: forward messages queued again, the events they name, and whether more wait.</summary>
public sealed record ForwardingResendResult(int Messages, int Events, bool More);

/// <summary>
/// Forwards the source refused for good (a 4xx, a 3xx, an endpoint on an internal address), kept
/// so they can be sent again once the owner fixes the setting. Besides the dead-letter blob (the
/// record for operators, named by day), each one is a row of table <c>AuditForwarding</c> in the
/// workspace's own partition (RowKey <c>deadletter-{day}-{hash}</c>, the blob's name), holding the
/// forward message: a resend reads that one partition, so it reaches that workspace's dead
/// letters and no other's. The message names stored events, so a resend sends what the trail
/// holds, with the same <c>messageId</c>s the source may already have seen in part.
/// </summary>
public sealed class ForwardingDeadLetters(
    TableServiceClient tables, ForwardingSettingsStore settings, ForwardingOutbox outbox, ActionRecorder recorder, TimeProvider time, ILogger<ForwardingDeadLetters> logger)
{
    /// <summary>Messages one resend call takes; the caller calls again while <see cref="ForwardingResendResult.More"/>.</summary>
    public const int MaxPerResend = 100;

    private const string RowPrefix = "deadletter-";

    private readonly TableClient _table = tables.GetTableClient(ForwardingSettingsStore.TableName);
    private readonly CreateOnce _creation = new();

    /// <summary>Keeps a refused forward message for a later resend. Idempotent: the same message on the same day is one row.</summary>
    public async Task RecordAsync(ForwardMessage message, string messageText, string deadLetterBlob, ForwardingFailure failure, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(deadLetterBlob);
        ArgumentNullException.ThrowIfNull(failure);
        await EnsureCreatedAsync(cancellationToken);
        // Binary: a message is up to 40 KiB of UTF-8, more than a string property's 64 KiB of UTF-16 holds.
        var row = TableRows.Create(message.WorkspaceId, RowKeyOf(deadLetterBlob),
            ("Message", Encoding.UTF8.GetBytes(messageText)), ("Events", message.EventCount), ("Blob", deadLetterBlob),
            ("At", failure.At), ("Status", failure.Status), ("Reason", failure.Reason));
        await _table.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>
    /// Queues up to <see cref="MaxPerResend"/> of the workspace's dead-lettered forwards on
    /// <c>audit-forward</c> again and removes them from the list, after recording the resend in
    /// the workspace's trail (nothing is resent unrecorded). Refused while forwarding is off. Queue first, then remove: a crash
    /// between the two sends a message twice, which the source drops by <c>messageId</c>.
    /// </summary>
    public async Task<ForwardingResendResult> ResendAsync(string workspaceId, SettingsActor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspaceId);
        ArgumentNullException.ThrowIfNull(actor);
        await EnsureResendableAsync(workspaceId, cancellationToken);
        await EnsureCreatedAsync(cancellationToken);
        var (rows, more) = await ReadAsync(workspaceId, cancellationToken);
        var events = rows.Sum(r => r.Events);
        if (rows.Count == 0)
        {
            return new ForwardingResendResult(0, 0, more);
        }
        await RecordAsync(workspaceId, actor, rows.Count, events, cancellationToken);
        await RequeueAsync(rows, cancellationToken);
        logger.LogInformation("Resent {Messages} dead-lettered forward messages ({Events} events) of {WorkspaceId} for {ActorType} {ActorId}; more waiting: {More}",
            rows.Count, events, workspaceId, actor.Type, actor.Id, more);
        return new ForwardingResendResult(rows.Count, events, more);
    }

    /// <summary>Refuses a resend whose messages could only be refused or dropped again.</summary>
    private async Task EnsureResendableAsync(string workspaceId, CancellationToken cancellationToken)
    {
        // Resent while off, the messages would be dropped as "forwarding is off" and lost for good.
        var current = await settings.GetAsync(workspaceId, cancellationToken);
        if (!current.Enabled || current.WriteKey is null)
        {
            throw new ForwardingSettingsException("forwarding_off", "enabled",
                "Forwarding is off for this workspace: turn it on (with the corrected setting) before resending.");
        }
        // Resent while the key is not bound to the endpoint, every message would be refused again.
        if (!settings.KeyIsBound(current))
        {
            throw new ForwardingSettingsException("write_key_required", "writeKey",
                "The write key was not given for the endpoint now set: send the write key again with the endpoint before resending.");
        }
    }

    /// <summary>Up to <see cref="MaxPerResend"/> of the workspace's dead-lettered forward messages, and whether more wait.</summary>
    private async Task<(List<(TableEntity Row, string Text, int Events)> Rows, bool More)> ReadAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var rows = new List<(TableEntity Row, string Text, int Events)>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId} and RowKey ge {RowPrefix} and RowKey lt {"deadletter."}");
        await foreach (var row in _table.QueryAsync<TableEntity>(filter, maxPerPage: MaxPerResend, cancellationToken: cancellationToken))
        {
            if (rows.Count == MaxPerResend)
            {
                return (rows, true);
            }
            var text = row.GetBinary("Message") is { } bytes ? Encoding.UTF8.GetString(bytes) : null;
            // Only a version-1 message of this very workspace goes back on the queue.
            if (text is not null && ForwardMessage.TryParse(text, out _) is { } parsed && parsed.WorkspaceId == workspaceId)
            {
                rows.Add((row, text, parsed.EventCount));
            }
            else
            {
                logger.LogWarning("Dead-lettered forward {RowKey} of {WorkspaceId} is not a forward message of that workspace; left as it is", row.RowKey, workspaceId);
            }
        }
        return (rows, false);
    }

    /// <summary>Queues each message again, then removes its row: a crash between the two sends it twice, never not at all.</summary>
    private async Task RequeueAsync(List<(TableEntity Row, string Text, int Events)> rows, CancellationToken cancellationToken)
    {
        await outbox.EnsureCreatedAsync(cancellationToken);
        foreach (var (row, text, _) in rows)
        {
            await ForwardingOutbox.SendAsync(outbox.Queue, ForwardingOutbox.EncodeBase64(text), cancellationToken);
            try
            {
                // Only the row as read: if the message was refused again meanwhile, its new record stays.
                await _table.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
            }
        }
    }

    internal static string RowKeyOf(string deadLetterBlob) =>
        // "2026/11/23/forward-<hash>.jsonl": '/' is not allowed in a row key.
        RowPrefix + deadLetterBlob.Replace(".jsonl", string.Empty, StringComparison.Ordinal).Replace('/', '-');

    private async Task RecordAsync(string workspaceId, SettingsActor actor, int messages, int events, CancellationToken cancellationToken)
    {
        var at = time.GetUtcNow();
        var e = new JsonObject
        {
            ["id"] = TrailRecordIds.New("audit-forwarding-resend", at.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ["workspaceId"] = workspaceId,
            ["type"] = "Audit Forwarding Dead Letters Resent",
            ["timestamp"] = at.ToString("O"),
            ["actor"] = new JsonObject { ["type"] = actor.Type, ["id"] = actor.Id },
            ["resource"] = new JsonObject { ["type"] = "audit-forwarding", ["id"] = workspaceId, ["name"] = "Audit forwarding" },
            ["properties"] = new JsonObject { ["messages"] = messages, ["events"] = events },
        };
        // Recorded before anything is resent: a resend whose record is not stored does not happen.
        await recorder.StoreAsync(recorder.Check(e), cancellationToken);
    }

    private Task EnsureCreatedAsync(CancellationToken cancellationToken) =>
        _creation.EnsureAsync(ct => _table.CreateIfNotExistsAsync(ct), cancellationToken);
}
