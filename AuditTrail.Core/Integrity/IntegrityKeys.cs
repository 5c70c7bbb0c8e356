using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using AuditTrail.Core.Storage;
using AuditTrail.Core.Trail;
using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Integrity;

/// <summary>A public key as a JWK (RFC 7517): EC P-256, for ES256.</summary>
public sealed record JsonWebKey(string Kty, string Crv, string X, string Y, string Kid, string Use, string Alg);

/// <summary>The JWKS <c>GET /api/integrity/keys</c> serves.</summary>
public sealed record JsonWebKeySet(IReadOnlyList<JsonWebKey> Keys);

/// <summary>The key digests are signed with, and its id.</summary>
public sealed record SigningKey(string Kid, ECDsa Key);

/// <summary>
/// The digest signing key: <c>SigningKeyPem</c>, else the Key Vault secret <c>SigningKeySecretUri</c>
/// (a PEM, read with the app's identity), else — standalone only; under the Functions host the app
/// does not start without one of the two — one generated once and kept in <c>AuditTrailKeys</c> like
/// the continuation key (an insert that only one instance can win; the others read the winner's).
/// The keys verification and the JWKS trust are the active key (the one this process signs with)
/// and the retired ones of <c>TrustedPublicKeysPem</c>: all from configuration or held by the
/// process, never read from a table, where anyone who can write the storage account could add one.
/// The key id is the JWK thumbprint (RFC 7638) of the public key.
/// </summary>
public sealed class IntegrityKeys(TrailTables store, IOptions<IntegrityOptions> options, TokenCredential credential, ILogger<IntegrityKeys> logger) : IDisposable
{
    private static readonly TimeSpan KeyVaultTimeout = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private SigningKey? _active;

    public void Dispose()
    {
        _gate.Dispose();
        _active?.Key.Dispose();
    }

    public static ECDsa? TryImport(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize == 256 && key.ExportParameters(false).Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                _ = key.ExportParameters(true); // a public key alone cannot sign
                return key;
            }
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
        }
        key.Dispose();
        return null;
    }

    public async Task<SigningKey> ActiveAsync(CancellationToken cancellationToken = default)
    {
        if (_active is { } active)
        {
            return active;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_active is null)
            {
                await store.EnsureCreatedAsync(cancellationToken);
                var key = await LoadAsync(cancellationToken);
                _active = new SigningKey(Thumbprint(key.ExportParameters(false)), key);
            }
            return _active;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The keys digests are trusted from: the active one and the configured retired ones. Nothing
    /// here is read from storage, so a key row planted in <c>AuditTrailKeys</c> is trusted by no one.
    /// </summary>
    public async Task<JsonWebKeySet> KeySetAsync(CancellationToken cancellationToken = default)
    {
        var active = await ActiveAsync(cancellationToken);
        var retired = options.Value.TrustedPublicKeys() ?? [];
        var keys = retired.Select(ToJwk).Prepend(ToJwk(active.Key.ExportParameters(false)))
            .DistinctBy(k => k.Kid, StringComparer.Ordinal).ToList();
        return new JsonWebKeySet(keys);
    }

    /// <summary><see cref="KeySetAsync"/> by key id.</summary>
    public async Task<Dictionary<string, JsonWebKey>> TrustedAsync(CancellationToken cancellationToken = default) =>
        (await KeySetAsync(cancellationToken)).Keys.ToDictionary(k => k.Kid, StringComparer.Ordinal);

    public static JsonWebKey ToJwk(ECParameters p) =>
        new("EC", "P-256", Base64Url.EncodeToString(p.Q.X), Base64Url.EncodeToString(p.Q.Y), Thumbprint(p), "sig", "ES256");

    /// <summary>RFC 7638: SHA-256 of <c>{"crv":"P-256","kty":"EC","x":…,"y":…}</c>, base64url.</summary>
    public static string Thumbprint(ECParameters p) =>
        Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{Base64Url.EncodeToString(p.Q.X)}\",\"y\":\"{Base64Url.EncodeToString(p.Q.Y)}\"}}")));

    private async Task<ECDsa> LoadAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.SigningKeyPem is { Length: > 0 } pem)
        {
            return TryImport(pem) ?? throw new InvalidOperationException($"Setting '{IntegrityOptions.Section}:SigningKeyPem' is not an EC P-256 private key.");
        }
        if (settings.SecretUri() is { } uri)
        {
            var id = new KeyVaultSecretIdentifier(uri);
            var clientOptions = new SecretClientOptions();
            clientOptions.Retry.MaxRetries = 3;
            clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
            var client = new SecretClient(id.VaultUri, credential, clientOptions);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(KeyVaultTimeout);
            var secret = (await client.GetSecretAsync(id.Name, id.Version, bound.Token)).Value;
            logger.LogInformation("Digest signing key read from Key Vault secret {SecretName} version {SecretVersion}", id.Name, secret.Properties.Version);
            return TryImport(secret.Value) ?? throw new InvalidOperationException($"The Key Vault secret '{id.Name}' ({IntegrityOptions.Section}:SigningKeySecretUri) is not an EC P-256 private key in PEM.");
        }
        // Of instances generating one at the same moment, every one signs with the key stored first.
        var (pkcs8, created) = await store.Secrets.GetOrAddAsync(TrailSecret.SigningKey, static () =>
        {
            using var generated = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return generated.ExportPkcs8PrivateKey();
        }, cancellationToken);
        if (created)
        {
            logger.LogWarning("Generated the digest signing key and kept it in {Table}: for development only; set {Setting} (a Key Vault secret) in production", TrailTables.KeysTable, IntegrityOptions.Section + ":SigningKeySecretUri");
        }
        return Import(pkcs8);
    }

    private static ECDsa Import(byte[] pkcs8)
    {
        var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(pkcs8, out _);
        return key;
    }
}
