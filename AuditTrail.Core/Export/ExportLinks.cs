using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;

namespace AuditTrail.Core.Export;

/// <summary>
/// Download links for export blobs: a SAS that grants read on that one blob and nothing else,
/// from five minutes ago (clock skew) until the given expiry, https only on an https endpoint.
/// Under a connection string it is signed with the account key (service SAS); under managed
/// identity, where the app has no key, with a user delegation key got with the app's identity.
/// One delegation key, valid a day, signs every link that ends before it does; callers that need a
/// new one while it is being fetched wait for that fetch rather than each asking for their own.
/// </summary>
public sealed class ExportLinks(BlobServiceClient blobs, TimeProvider time)
{
    private static readonly TimeSpan KeyLifetime = TimeSpan.FromDays(1);
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);
    private readonly Lock _gate = new();
    private Task<UserDelegationKey>? _key;
    private DateTimeOffset _keyExpiry;

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

    /// <summary>
    /// A key valid at least until <paramref name="until"/>: the cached one (or the one being fetched)
    /// while it lasts, else a new one. A fetch is not tied to the caller who started it, so one
    /// caller giving up does not fail the others; each waits only as long as its own token allows.
    /// </summary>
    private Task<UserDelegationKey> DelegationKeyAsync(DateTimeOffset until, CancellationToken cancellationToken)
    {
        Task<UserDelegationKey> key;
        lock (_gate)
        {
            if (_key is null || _key.IsFaulted || _key.IsCanceled || _keyExpiry <= until)
            {
                var now = time.GetUtcNow();
                _keyExpiry = (until > now + KeyLifetime ? until : now + KeyLifetime) + ClockSkew;
                _key = FetchAsync(now - ClockSkew, _keyExpiry);
            }
            key = _key;
        }
        return key.WaitAsync(cancellationToken);
    }

    // Bounded by the storage client's own retries and try timeout.
    private async Task<UserDelegationKey> FetchAsync(DateTimeOffset startsOn, DateTimeOffset expiresOn) =>
        (await blobs.GetUserDelegationKeyAsync(new BlobGetUserDelegationKeyOptions(expiresOn) { StartsOn = startsOn }, CancellationToken.None)).Value;
}
