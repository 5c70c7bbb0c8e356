using System.Text;
using AuditTrail.Core.Events;
using AuditTrail.Core.Ingestion;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;

namespace AuditTrail.Core.Forwarding;

/// <summary>
/// Queue <c>audit-forward</c> and its poison queue. Ingest puts work here for workspaces with
/// forwarding on, after their rows are stored and before the batch is acknowledged, so a stored
/// event is either queued or its batch is retried (and queued then). A replayed batch is queued
/// again; the receiver drops the repeat by <c>messageId</c>. Ingest runs it as an after-store step
/// (<see cref="IAfterStoreStep"/>) without a claim mark: a repeat is harmless.
/// <para>
/// Message text is base64 of the UTF-8 JSON, the queue trigger's <c>messageEncoding</c>, written
/// and read here rather than by the client's own encoding option: a message that is not base64
/// must be moved to the poison queue exactly as it is, as the host's queue extension does, which a
/// decoding client cannot do.
/// </para>
/// </summary>
public sealed class ForwardingOutbox(QueueServiceClient queues, ForwardingSettingsStore settings, ILogger<ForwardingOutbox> logger) : IAfterStoreStep
{
    public const string QueueName = "audit-forward";
    public const string PoisonQueueName = QueueName + "-poison";

    /// <summary>Largest message text the service takes (the encoded text, not the payload).</summary>
    public const int MaxMessageTextLength = 64 * 1024;

    /// <summary>Payload budget per message, under the 48 KiB that base64 leaves of the 64 KiB limit.</summary>
    internal const int PayloadBudgetBytes = 40 * 1024;

    /// <summary>Most messages one receive returns.</summary>
    public const int MaxMessagesPerReceive = 32;

    private readonly QueueClient _queue = queues.GetQueueClient(QueueName);
    private readonly QueueClient _poison = queues.GetQueueClient(PoisonQueueName);
    private readonly CreateOnce _creation = new();

    public QueueClient Queue => _queue;

    public QueueClient PoisonQueue => _poison;

    string? IAfterStoreStep.ClaimMark => null;

    async Task<IReadOnlyList<MarkedEvent>> IAfterStoreStep.RunAsync(IReadOnlyList<StoredEvent> stored, CancellationToken cancellationToken)
    {
        await EnqueueAsync(stored.Select(s => s.Event).ToList(), cancellationToken);
        return [];
    }

    /// <summary>Queues forward work for the events of workspaces that have forwarding on; returns the number of messages.</summary>
    public async Task<int> EnqueueAsync(IReadOnlyList<AuditEvent> stored, CancellationToken cancellationToken = default)
    {
        var messages = new List<ForwardMessage>();
        foreach (var workspace in stored.GroupBy(e => e.WorkspaceId, StringComparer.Ordinal))
        {
            var current = await settings.GetCachedAsync(workspace.Key, cancellationToken);
            if (current.Enabled)
            {
                messages.AddRange(Pack(workspace.Key, workspace.OrderBy(e => e.Timestamp).ThenBy(e => e.Id, StringComparer.Ordinal)));
            }
        }
        if (messages.Count == 0)
        {
            return 0;
        }
        await EnsureCreatedAsync(cancellationToken);
        await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (m, ct) => await SendAsync(_queue, EncodeBase64(m.ToJson()), ct));
        logger.LogInformation("Queued {Messages} forward messages for {Events} events", messages.Count, messages.Sum(m => m.EventCount));
        return messages.Count;
    }

    /// <summary>Moves up to <paramref name="max"/> messages from the poison queue back to <c>audit-forward</c>; returns how many.</summary>
    public async Task<int> ReplayPoisonAsync(int max, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        await EnsureCreatedAsync(cancellationToken);
        var moved = 0;
        while (moved < max)
        {
            var batch = (await _poison.ReceiveMessagesAsync(Math.Min(MaxMessagesPerReceive, max - moved), TimeSpan.FromMinutes(5), cancellationToken)).Value;
            if (batch.Length == 0)
            {
                break;
            }
            foreach (var m in batch)
            {
                // Send first, then delete: a crash between the two leaves a copy in both, which the receiver de-duplicates.
                await SendAsync(_queue, m.MessageText, cancellationToken);
                await _poison.DeleteMessageAsync(m.MessageId, m.PopReceipt, cancellationToken);
                moved++;
                progress?.Report(moved);
            }
        }
        logger.LogInformation("Replayed {Messages} poison messages to {Queue}", moved, QueueName);
        return moved;
    }

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        _creation.EnsureAsync(ct => Task.WhenAll(_queue.CreateIfNotExistsAsync(cancellationToken: ct), _poison.CreateIfNotExistsAsync(cancellationToken: ct)), cancellationToken);

    /// <summary>Adds a message that never expires (time to live -1): forward work must not vanish unread.</summary>
    public static Task SendAsync(QueueClient queue, string messageText, CancellationToken cancellationToken) =>
        QueueMessages.SendAsync(queue, messageText, cancellationToken);

    public static string EncodeBase64(string payload) => QueueMessages.EncodeBase64(payload);

    /// <summary>The payload of base64 message text, or null if the text is not base64 of UTF-8.</summary>
    public static string? DecodeBase64(string messageText) => QueueMessages.DecodeBase64(messageText);

    /// <summary>Splits a workspace's events into messages whose JSON stays within <see cref="PayloadBudgetBytes"/>.</summary>
    public static IEnumerable<ForwardMessage> Pack(string workspaceId, IEnumerable<AuditEvent> events)
    {
        var overhead = Encoding.UTF8.GetByteCount(new ForwardMessage(ForwardMessage.CurrentVersion, workspaceId, []).ToJson());
        var partitions = new List<ForwardPartition>();
        List<string>? rows = null;
        string? pk = null;
        var size = overhead;
        foreach (var e in events)
        {
            var eventPk = EventRows.PartitionKey(e);
            var row = TrailKeys.PrimaryRowKey(e.Timestamp, e.Id);
            // Keys are ASCII after encoding, but JSON may escape some characters: count generously.
            var cost = (2 * row.Length) + 3 + (eventPk == pk ? 0 : (2 * eventPk.Length) + 20);
            if (size + cost > PayloadBudgetBytes && partitions.Count + (rows?.Count ?? 0) > 0)
            {
                yield return new ForwardMessage(ForwardMessage.CurrentVersion, workspaceId, partitions);
                partitions = [];
                rows = null;
                pk = null;
                size = overhead;
                cost = (2 * row.Length) + 3 + (2 * eventPk.Length) + 20;
            }
            if (eventPk != pk)
            {
                rows = [];
                partitions.Add(new ForwardPartition(eventPk, rows));
                pk = eventPk;
            }
            rows!.Add(row);
            size += cost;
        }
        if (partitions.Count > 0)
        {
            yield return new ForwardMessage(ForwardMessage.CurrentVersion, workspaceId, partitions);
        }
    }
}
