using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AuditTrail.Core.Integrity;

/// <summary>
/// The signed statement about one interval of one workspace's ledger (docs/integrity.md, "Digest format").
/// Times are UTC, ISO 8601 with seven fractional digits; hashes lower-case hex.
/// </summary>
public sealed record DigestPayload(
    int Version,
    string WorkspaceId,
    long Sequence,
    string Start,
    string End,
    long Count,
    string MerkleRoot,
    string? PreviousDigest,
    IReadOnlyList<string> PurgedDays,
    string SealedAt)
{
    public const int CurrentVersion = 1;
    public const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString(TimeFormat, System.Globalization.CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTime(string text) =>
        new(DateTime.ParseExact(text, TimeFormat, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal), TimeSpan.Zero);
}

/// <summary>The JOSE header: ES256 and the signing key's id.</summary>
public sealed record JwsHeader(string Alg, string Kid, string Typ);

/// <summary>A digest as sealed: its JWS (compact serialization, RFC 7515 §7.1), its payload, and its hash (the next digest's <c>previousDigest</c>).</summary>
public sealed record SealedDigest(DigestPayload Payload, string Jws, string Kid)
{
    public string Hash => DigestJws.Hash(Jws);
}

/// <summary>ES256 compact JWS over the digest JSON.</summary>
public static class DigestJws
{
    public const string Type = "JOSE";

    public static string Sign(DigestPayload payload, SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(key);
        var header = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new JwsHeader("ES256", key.Kid, Type), IntegrityJson.Default.JwsHeader));
        var body = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload, IntegrityJson.Default.DigestPayload));
        var signingInput = header + "." + body;
        // IEEE P1363 r||s, 64 bytes: what RFC 7518 §3.4 asks of ES256.
        var signature = key.Key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>SHA-256 of the JWS text (ASCII), lower-case hex: what chains a digest to the one before.</summary>
    public static string Hash(string jws) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(jws)));

    /// <summary>Header and payload of a JWS, without checking the signature; null if it is not one of ours.</summary>
    public static (JwsHeader Header, DigestPayload Payload)? Read(string jws)
    {
        var parts = jws.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }
        try
        {
            var header = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(parts[0]), IntegrityJson.Default.JwsHeader);
            var payload = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(parts[1]), IntegrityJson.Default.DigestPayload);
            return header is null || payload is null ? null : (header, payload);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Whether the signature is the key's over the JWS's own signing input.</summary>
    public static bool Verify(string jws, JsonWebKey key)
    {
        ArgumentNullException.ThrowIfNull(jws);
        ArgumentNullException.ThrowIfNull(key);
        var lastDot = jws.LastIndexOf('.');
        if (lastDot < 0)
        {
            return false;
        }
        try
        {
            using var ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Base64Url.DecodeFromChars(key.X), Y = Base64Url.DecodeFromChars(key.Y) },
            });
            return ecdsa.VerifyData(Encoding.ASCII.GetBytes(jws[..lastDot]), Base64Url.DecodeFromChars(jws.AsSpan(lastDot + 1)),
                HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>Whether a blob is a digest to trust: signed ES256 by a trusted key, for the workspace and sequence it sits at.</summary>
public static class DigestTrust
{
    /// <summary>Why <paramref name="jws"/> is not a trusted digest of this workspace and sequence, or null when it is.</summary>
    public static string? Problem(string jws, IReadOnlyDictionary<string, JsonWebKey> trusted, string workspaceId, long sequence)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        if (DigestJws.Read(jws) is not { } read)
        {
            return "it is not a digest";
        }
        var (header, payload) = read;
        if (!trusted.TryGetValue(header.Kid, out var key))
        {
            return $"it names key '{header.Kid}', which is not trusted";
        }
        if (header.Alg != "ES256" || !DigestJws.Verify(jws, key))
        {
            return $"its signature does not verify with key '{header.Kid}'";
        }
        return payload.WorkspaceId != workspaceId || payload.Sequence != sequence
            ? $"it holds digest {payload.Sequence} of workspace '{payload.WorkspaceId}'"
            : null;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DigestPayload))]
[JsonSerializable(typeof(JwsHeader))]
internal sealed partial class IntegrityJson : JsonSerializerContext;
