using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Xml.Linq;

namespace AuditTrail.Core.Storage;

/// <summary>A message taken from a queue: invisible to others until its visibility timeout ends.</summary>
public sealed record QueueMessage(string MessageId, string PopReceipt, string MessageText, long DequeueCount, DateTimeOffset InsertionTime, DateTimeOffset? NextVisibleTime);

/// <summary>
/// One storage queue, over the Queue REST API. Message text is sent and returned as is: callers
/// that share a queue with a Functions queue trigger use <see cref="EncodeBase64"/> and
/// <see cref="DecodeBase64"/>, the trigger's default <c>messageEncoding</c>.
/// </summary>
public sealed class QueueClient
{
    /// <summary>Largest message text the service takes (the encoded text, not the payload).</summary>
    public const int MaxMessageTextLength = 64 * 1024;

    /// <summary>Largest payload that still fits once base64-encoded.</summary>
    public const int MaxBase64PayloadBytes = MaxMessageTextLength / 4 * 3;

    /// <summary>Most messages one Get Messages call returns.</summary>
    public const int MaxMessagesPerReceive = 32;

    private readonly HttpClient _http;
    private readonly string _queueUri;

    public QueueClient(HttpClient http, StorageAccount account, string queueName)
    {
        ArgumentNullException.ThrowIfNull(account);
        _http = http;
        Name = queueName;
        _queueUri = account.QueueEndpoint.ToString().TrimEnd('/') + "/" + queueName;
    }

    public string Name { get; }

    public static string EncodeBase64(string payload) => Convert.ToBase64String(Encoding.UTF8.GetBytes(payload));

    /// <summary>The payload of base64 message text, or null if the text is not base64 of UTF-8.</summary>
    public static string? DecodeBase64(string messageText)
    {
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

    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_queueUri));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Create queue {Name}", cancellationToken);
        }
    }

    /// <summary>Adds a message; it never expires (<c>messagettl=-1</c>): forward work must not vanish unread.</summary>
    public async Task SendMessageAsync(string messageText, TimeSpan? visibilityDelay = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageText);
        if (messageText.Length > MaxMessageTextLength)
        {
            throw new ArgumentException($"Message text of {messageText.Length} characters is over the queue limit of {MaxMessageTextLength}.", nameof(messageText));
        }
        var uri = $"{_queueUri}/messages?messagettl=-1&visibilitytimeout={(int)(visibilityDelay ?? TimeSpan.Zero).TotalSeconds}";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(uri))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(new XElement("QueueMessage", new XElement("MessageText", messageText)).ToString(SaveOptions.DisableFormatting))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/xml");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Put message on {Name}", cancellationToken);
        }
    }

    /// <summary>Takes up to <paramref name="maxMessages"/> visible messages and hides them for <paramref name="visibilityTimeout"/>.</summary>
    public Task<IReadOnlyList<QueueMessage>> ReceiveMessagesAsync(int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxMessages, MaxMessagesPerReceive);
        return GetMessagesAsync($"numofmessages={maxMessages}&visibilitytimeout={Math.Max(1, (int)visibilityTimeout.TotalSeconds)}", cancellationToken);
    }

    /// <summary>Reads up to 32 visible messages without taking them (no pop receipt).</summary>
    public Task<IReadOnlyList<QueueMessage>> PeekMessagesAsync(int maxMessages = MaxMessagesPerReceive, CancellationToken cancellationToken = default) =>
        GetMessagesAsync($"peekonly=true&numofmessages={Math.Clamp(maxMessages, 1, MaxMessagesPerReceive)}", cancellationToken);

    public async Task DeleteMessageAsync(string messageId, string popReceipt, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, MessageUri(messageId, popReceipt, null));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Delete message from {Name}", cancellationToken);
        }
    }

    /// <summary>Makes a taken message visible again after <paramref name="visibilityTimeout"/>; returns the new pop receipt.</summary>
    public async Task<string> UpdateVisibilityAsync(string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, MessageUri(messageId, popReceipt, visibilityTimeout));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Update message in {Name}", cancellationToken);
        }
        return response.Headers.TryGetValues("x-ms-popreceipt", out var values) ? values.First() : popReceipt;
    }

    private Uri MessageUri(string messageId, string popReceipt, TimeSpan? visibility)
    {
        var uri = $"{_queueUri}/messages/{Uri.EscapeDataString(messageId)}?popreceipt={Uri.EscapeDataString(popReceipt)}";
        return new Uri(visibility is { } v ? uri + $"&visibilitytimeout={(int)v.TotalSeconds}" : uri);
    }

    private async Task<IReadOnlyList<QueueMessage>> GetMessagesAsync(string query, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{_queueUri}/messages?{query}"));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Get messages from {Name}", cancellationToken);
        }
        var xml = XDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return xml.Descendants("QueueMessage").Select(m => new QueueMessage(
            m.Element("MessageId")?.Value ?? string.Empty,
            m.Element("PopReceipt")?.Value ?? string.Empty,
            m.Element("MessageText")?.Value ?? string.Empty,
            long.TryParse(m.Element("DequeueCount")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count : 0,
            Date(m.Element("InsertionTime")?.Value) ?? DateTimeOffset.MinValue,
            Date(m.Element("TimeNextVisible")?.Value))).ToList();
    }

    private static DateTimeOffset? Date(string? rfc1123) =>
        DateTimeOffset.TryParse(rfc1123, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d : null;
}
