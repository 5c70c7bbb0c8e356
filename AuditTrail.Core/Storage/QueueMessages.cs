using System.Text;
using Azure.Storage.Queues;

namespace AuditTrail.Core.Storage;

/// <summary>
/// Message text as the queue trigger reads it (<c>messageEncoding: base64</c>), written and read
/// here rather than by the client's own encoding option: a message that is not base64 must be moved
/// to its poison queue exactly as it is, as the host's queue extension does, which a decoding client
/// cannot do.
/// </summary>
public static class QueueMessages
{
    /// <summary>Adds a message that never expires (time to live -1): queued work must not vanish unread.</summary>
    public static async Task SendAsync(QueueClient queue, string messageText, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        await queue.SendMessageAsync(messageText, visibilityTimeout: null, timeToLive: TimeSpan.FromSeconds(-1), cancellationToken);
    }

    public static string EncodeBase64(string payload) => Convert.ToBase64String(Encoding.UTF8.GetBytes(payload));

    /// <summary>The payload of base64 message text, or null if the text is not base64 of UTF-8.</summary>
    public static string? DecodeBase64(string messageText)
    {
        ArgumentNullException.ThrowIfNull(messageText);
        var bytes = new byte[messageText.Length];
        if (!Convert.TryFromBase64String(messageText, bytes, out var written))
        {
            return null;
        }
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
