using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Data.Tables;

namespace AuditTrail.Core.Query;

/// <summary>
/// Opaque continuation tokens: the next position and a fingerprint of the filters, signed with
/// HMAC-SHA256. A token that was altered, or is presented with other filters, is refused. The key
/// is generated once and kept in table <c>AuditTrailKeys</c>, so every instance of a scaled-out app
/// (and a restarted one) accepts the tokens of the others.
/// </summary>
public sealed class ContinuationTokens(TrailTables store)
{
    private byte[]? _key;

    public async Task<string> EncodeAsync(QueryPosition position, AuditQuery query, CancellationToken cancellationToken)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Payload(position.Day, position.AfterRowKey, FilterHash(query)), ContinuationJson.Default.Payload);
        var mac = HMACSHA256.HashData(await KeyAsync(cancellationToken), payload);
        return Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(mac);
    }

    /// <exception cref="QueryValidationException">The token is malformed, altered, or bound to other filters.</exception>
    public async Task<QueryPosition> DecodeAsync(string token, AuditQuery query, CancellationToken cancellationToken)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        byte[] payload, mac;
        try
        {
            if (dot <= 0 || token.Length > 4096)
            {
                throw new FormatException();
            }
            payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            mac = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            throw Invalid("The continuation token is malformed. Use the nextLink exactly as returned.");
        }
        var key = await KeyAsync(cancellationToken);
        if (!CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(key, payload)))
        {
            throw Invalid("The continuation token has been altered. Use the nextLink exactly as returned.");
        }
        var data = JsonSerializer.Deserialize(payload, ContinuationJson.Default.Payload)!;
        if (data.F != FilterHash(query))
        {
            throw Invalid("The continuation token belongs to a query with other filters. Start again without it, or repeat the original filters.");
        }
        return new QueryPosition(data.D, data.K);
    }

    private static QueryValidationException Invalid(string message) => new("continuation", message, QueryValidationException.InvalidContinuation);

    private static string FilterHash(AuditQuery query) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(query.Fingerprint())), 0, 16);

    private async Task<byte[]> KeyAsync(CancellationToken cancellationToken)
    {
        if (_key is not null)
        {
            return _key;
        }
        await store.EnsureCreatedAsync(cancellationToken);
        var (key, _) = await store.Secrets.GetOrAddAsync(TrailSecret.ContinuationKey, () => RandomNumberGenerator.GetBytes(32), cancellationToken);
        _key = key;
        return key;
    }

    internal sealed record Payload(string D, string K, string F);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(ContinuationTokens.Payload))]
internal sealed partial class ContinuationJson : System.Text.Json.Serialization.JsonSerializerContext;
