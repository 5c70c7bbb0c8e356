using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;

namespace AuditTrail.Core.Integrity;

/// <summary>Settings <c>AuditTrail:Integrity</c>: the sealing delay and where the signing key comes from.</summary>
public sealed class IntegrityOptions
{
    public const string Section = "AuditTrail:Integrity";

    /// <summary>
    /// A digest covers only ledger entries older than this, so no entry can land in an interval
    /// already sealed: longer than any ledger write can take (its time is read just before the
    /// write, and a write is bounded by the storage deadline, at most 200 s).
    /// </summary>
    [Range(typeof(TimeSpan), "00:05:00", "1.00:00:00")]
    public TimeSpan SealDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>An EC P-256 private key in PEM (PKCS#8 or SEC1). Takes precedence over the generated key.</summary>
    public string? SigningKeyPem { get; set; }

    /// <summary>
    /// A Key Vault secret (https://{vault}.vault.azure.net/secrets/{name}[/{version}]) whose value
    /// is such a PEM, read with the app's identity.
    /// </summary>
    public string? SigningKeySecretUri { get; set; }

    /// <summary>
    /// Retired signing keys still trusted: one or more EC P-256 public keys in PEM (<c>BEGIN PUBLIC
    /// KEY</c> blocks, one after another). After a rotation the old key goes here, so its digests
    /// still verify and it stays in the JWKS. Verification and the JWKS trust only these and the
    /// active key: never a key found in storage, which anyone who can write the account could add.
    /// </summary>
    public string? TrustedPublicKeysPem { get; set; }

    /// <summary>Whether the signing key comes from configuration (a PEM or a Key Vault secret), not generated.</summary>
    public bool HasConfiguredKey => SigningKeyPem is { Length: > 0 } || SigningKeySecretUri is { Length: > 0 };

    /// <summary>The retired keys of <see cref="TrustedPublicKeysPem"/>, or null when one block is not an EC P-256 public key.</summary>
    public IReadOnlyList<ECParameters>? TrustedPublicKeys()
    {
        var keys = new List<ECParameters>();
        var text = (TrustedPublicKeysPem ?? string.Empty).AsSpan();
        while (PemEncoding.TryFind(text, out var fields))
        {
            using var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(text[fields.Location]);
                var p = key.ExportParameters(false);
                if (key.KeySize != 256 || p.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
                {
                    return null;
                }
                keys.Add(p);
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException)
            {
                return null;
            }
            text = text[fields.Location.End..];
        }
        return text.Trim().IsEmpty ? keys : null;
    }

    /// <summary>The Key Vault secret's URL, or null when none (or an unusable one) is set.</summary>
    public Uri? SecretUri() =>
        Uri.TryCreate(SigningKeySecretUri, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps
        && uri.AbsolutePath.StartsWith("/secrets/", StringComparison.Ordinal) && uri.Segments.Length is 3 or 4
            ? uri
            : null;

    /// <summary>The first thing wrong with these settings, or null.</summary>
    public string? Problem()
    {
        if (SigningKeyPem is { Length: > 0 } && SigningKeySecretUri is { Length: > 0 })
        {
            return $"Set only one of '{Section}:SigningKeyPem' and '{Section}:SigningKeySecretUri'.";
        }
        if (SigningKeySecretUri is { Length: > 0 } && SecretUri() is null)
        {
            return $"Setting '{Section}:SigningKeySecretUri' must be a Key Vault secret URL, https://<vault>.vault.azure.net/secrets/<name>[/<version>].";
        }
        if (SigningKeyPem is { Length: > 0 } pem && IntegrityKeys.TryImport(pem) is null)
        {
            return $"Setting '{Section}:SigningKeyPem' is not an EC P-256 private key in PEM.";
        }
        if (TrustedPublicKeys() is null)
        {
            return $"Setting '{Section}:TrustedPublicKeysPem' must be EC P-256 public keys in PEM ('-----BEGIN PUBLIC KEY-----' blocks).";
        }
        return null;
    }
}
