using System.Net.Http.Headers;
using System.Text;
using System.Xml.Linq;

namespace AuditTrail.Core.Storage;

/// <summary>A user delegation key as Get User Delegation Key returns it; times kept as the service wrote them.</summary>
public sealed record UserDelegationKey(string ObjectId, string TenantId, string Start, string Expiry, string Service, string Version, string Value)
{
    public override string ToString() => $"UserDelegationKey {{ ObjectId = {ObjectId}, Start = {Start}, Expiry = {Expiry} }}";
}

/// <summary>
/// Gets and caches the user delegation key that signs download links when the app has no account
/// key (managed identity). One key, valid a day, serves every link that ends before the key does.
/// </summary>
public sealed class UserDelegationKeys(HttpClient http, StorageAccount account, TimeProvider time)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(1);
    private volatile Task<(UserDelegationKey Key, DateTimeOffset Expiry)>? _current;

    /// <summary>A key valid at least until <paramref name="until"/>.</summary>
    public async Task<UserDelegationKey> GetAsync(DateTimeOffset until, CancellationToken cancellationToken = default)
    {
        var current = _current;
        if (current is { IsCompletedSuccessfully: true } && current.Result.Expiry > until)
        {
            return current.Result.Key;
        }
        // Concurrent callers may each ask once; the service hands out as many keys as asked, so that is harmless.
        var now = time.GetUtcNow();
        var expiry = (until > now + Lifetime ? until : now + Lifetime).AddMinutes(5);
        var fresh = FetchAsync(now.AddMinutes(-5), expiry, cancellationToken);
        _current = fresh;
        return (await fresh).Key;
    }

    private async Task<(UserDelegationKey Key, DateTimeOffset Expiry)> FetchAsync(DateTimeOffset start, DateTimeOffset expiry, CancellationToken cancellationToken) =>
        (await RequestAsync(start, expiry, cancellationToken), expiry);

    private async Task<UserDelegationKey> RequestAsync(DateTimeOffset start, DateTimeOffset expiry, CancellationToken cancellationToken)
    {
        var body = new XElement("KeyInfo", new XElement("Start", BlobContainerClient.SasTime(start)), new XElement("Expiry", BlobContainerClient.SasTime(expiry)));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(account.BlobEndpoint.ToString().TrimEnd('/') + "/?restype=service&comp=userdelegationkey"))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"utf-8\"?>" + body.ToString(SaveOptions.DisableFormatting))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/xml");
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, "Get user delegation key", cancellationToken);
        }
        var xml = XDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken)).Root!;
        string Field(string name) => xml.Element(name)?.Value
            ?? throw new StorageRequestException((int)response.StatusCode, "InvalidUserDelegationKey", $"Get user delegation key: the answer has no {name}.");
        return new UserDelegationKey(Field("SignedOid"), Field("SignedTid"), Field("SignedStart"), Field("SignedExpiry"), Field("SignedService"), Field("SignedVersion"), Field("Value"));
    }
}
