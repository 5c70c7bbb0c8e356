using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;

namespace AuditTrail.Core.Export;

/// <summary>
/// Download links for export blobs: a SAS that grants read on that one blob and nothing else,
/// from five minutes ago (clock skew) until the given expiry, https only on an https endpoint.
/// Under a connection string it is signed with the account key (service SAS); under managed
/// identity, where the app has no key, with a user delegation key got with the app's identity.
/// One delegation key, valid a day, signs every link that ends before it does.
/// </summary>
public sealed class ExportLinks(BlobServiceClient blobs, TimeProvider time)
{
    private static readonly TimeSpan KeyLifetime = TimeSpan.FromDays(1);
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);
    private volatile Task<UserDelegationKey>? _key;

    public async Task<Uri> ReadLinkAsync(BlobClient blob, DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var sas = new BlobSasBuilder(BlobSasPermissions.Read, expiresOn)
        {
            BlobContainerName = blob.BlobContainerName,
            BlobName = blob.Name,
            Resource = "b",
            StartsOn = startsOn - ClockSkew,
            // Plain http only where the endpoint is plain http (Azurite); Azure endpoints get https only.
            Protocol = blob.Uri.Scheme == Uri.UriSchemeHttps ? SasProtocol.Https : SasProtocol.HttpsAndHttp,
        };
        if (blob.CanGenerateSasUri)
        {
            return blob.GenerateSasUri(sas);
        }
        var key = await DelegationKeyAsync(expiresOn, cancellationToken);
        return new BlobUriBuilder(blob.Uri) { Sas = sas.ToSasQueryParameters(key, blobs.AccountName) }.ToUri();
    }

    /// <summary>A key valid at least until <paramref name="until"/>: the cached one while it lasts, else a new one.</summary>
    private async Task<UserDelegationKey> DelegationKeyAsync(DateTimeOffset until, CancellationToken cancellationToken)
    {
        if (_key is { IsCompletedSuccessfully: true } current && current.Result.SignedExpiresOn > until)
        {
            return current.Result;
        }
        // Concurrent callers may each ask once; the service hands out as many keys as asked, so that is harmless.
        var now = time.GetUtcNow();
        var expiry = (until > now + KeyLifetime ? until : now + KeyLifetime) + ClockSkew;
        var fresh = FetchAsync(now - ClockSkew, expiry, cancellationToken);
        _key = fresh;
        return await fresh;
    }

    private async Task<UserDelegationKey> FetchAsync(DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken) =>
        (await blobs.GetUserDelegationKeyAsync(new BlobGetUserDelegationKeyOptions(expiresOn) { StartsOn = startsOn }, cancellationToken)).Value;
}
