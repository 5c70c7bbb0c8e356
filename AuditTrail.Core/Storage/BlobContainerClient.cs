using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace AuditTrail.Core.Storage;

/// <summary>One blob container, over the Blob REST API.</summary>
public sealed class BlobContainerClient
{
    private readonly HttpClient _http;
    private readonly StorageAccount _account;
    private readonly string _containerUri;
    private readonly UserDelegationKeys _delegationKeys;

    public BlobContainerClient(HttpClient http, StorageAccount account, string containerName, UserDelegationKeys delegationKeys)
    {
        _http = http;
        _account = account;
        _delegationKeys = delegationKeys;
        Name = containerName;
        _containerUri = account.BlobEndpoint.ToString().TrimEnd('/') + "/" + containerName;
    }

    public string Name { get; }

    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_containerUri + "?restype=container"));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Conflict)
        {
            return; // 409 ContainerAlreadyExists
        }
        throw await StorageErrors.FromResponseAsync(response, $"Create container {Name}", cancellationToken);
    }

    /// <summary>Writes a block blob in one Put Blob call, replacing any blob of that name.</summary>
    public async Task UploadAsync(string blobName, ReadOnlyMemory<byte> content, BlobUploadOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, BlobUri(blobName));
        request.Headers.TryAddWithoutValidation("x-ms-blob-type", "BlockBlob");
        AddBlobHeaders(request, options);
        request.Content = new ReadOnlyMemoryContent(content);
        // Without an explicit type HttpClient sends none; the signature covers exactly what is sent.
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Upload blob {Name}/{blobName}", cancellationToken);
        }
    }

    /// <summary>Uploads one uncommitted block of a block blob. Every block id of a blob must have the same length.</summary>
    public async Task StageBlockAsync(string blobName, string blockId, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(BlobUri(blobName) + "?comp=block&blockid=" + Uri.EscapeDataString(blockId));
        using var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = new ReadOnlyMemoryContent(content) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Put block of {Name}/{blobName}", cancellationToken);
        }
    }

    /// <summary>Commits staged blocks, in order, as the blob's content.</summary>
    public async Task CommitBlockListAsync(string blobName, IReadOnlyList<string> blockIds, BlobUploadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        foreach (var id in blockIds)
        {
            xml.Append("<Latest>").Append(System.Security.SecurityElement.Escape(id)).Append("</Latest>");
        }
        xml.Append("</BlockList>");
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(BlobUri(blobName) + "?comp=blocklist"))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(xml.ToString())),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/xml");
        AddBlobHeaders(request, options);
        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Put block list of {Name}/{blobName}", cancellationToken);
        }
    }

    /// <summary>
    /// A read-only SAS URL for one blob (sv 2021-12-02), granting <c>r</c> on that blob alone from five
    /// minutes ago (clock skew) until <paramref name="expiresOn"/>. Signed with the account key when
    /// there is one (service SAS); otherwise with a user delegation key obtained with the app's
    /// Microsoft Entra identity (user delegation SAS), so no account key is ever needed in Azure.
    /// </summary>
    public async Task<Uri> GetReadSasUriAsync(string blobName, DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default)
    {
        var st = SasTime(startsOn.AddMinutes(-5));
        var se = SasTime(expiresOn);
        // Plain HTTP is allowed only where the endpoint is plain HTTP (Azurite); Azure endpoints get https only.
        var protocol = _containerUri.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? "https" : "https,http";
        var resource = $"/blob/{_account.Name}/{Name}/{blobName}";
        string query;
        if (_account.Key is { } accountKey)
        {
            var stringToSign = string.Join('\n', "r", st, se, resource, "", "", protocol, SasVersion, "b", "", "", "", "", "", "", "");
            query = $"sv={SasVersion}&spr={Escape(protocol)}&st={Escape(st)}&se={Escape(se)}&sr=b&sp=r&sig={Escape(Sign(accountKey, stringToSign))}";
        }
        else
        {
            var key = await _delegationKeys.GetAsync(expiresOn, cancellationToken);
            var stringToSign = UserDelegationStringToSign(st, se, resource, key, protocol);
            query = $"sv={SasVersion}&spr={Escape(protocol)}&st={Escape(st)}&se={Escape(se)}&skoid={Escape(key.ObjectId)}&sktid={Escape(key.TenantId)}"
                    + $"&skt={Escape(key.Start)}&ske={Escape(key.Expiry)}&sks={Escape(key.Service)}&skv={Escape(key.Version)}&sr=b&sp=r&sig={Escape(Sign(Convert.FromBase64String(key.Value), stringToSign))}";
        }
        return new Uri(BlobUri(blobName) + "?" + query);
    }

    private const string SasVersion = "2021-12-02";

    /// <summary>The user delegation SAS layout of versions 2020-12-06 up to 2025-07-05: 25 fields, unused ones empty.</summary>
    internal static string UserDelegationStringToSign(string st, string se, string resource, UserDelegationKey key, string protocol) => string.Join('\n',
        "r", st, se, resource,
        key.ObjectId, key.TenantId, key.Start, key.Expiry, key.Service, key.Version,
        "", "", "",        // saoid, suoid, scid
        "", protocol, SasVersion, "b", "", "", // sip, spr, sv, sr, snapshot time, ses
        "", "", "", "", "");  // rscc, rscd, rsce, rscl, rsct

    /// <summary>The second-precision UTC form SAS fields and the delegation-key request use.</summary>
    internal static string SasTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Escape(string value) => Uri.EscapeDataString(value);

    private static string Sign(byte[] key, string stringToSign)
    {
        using var hmac = new System.Security.Cryptography.HMACSHA256(key);
        return Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(stringToSign)));
    }

    /// <summary>Reads a whole blob; null if it does not exist.</summary>
    public async Task<byte[]?> DownloadAsync(string blobName, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BlobUri(blobName));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Download blob {Name}/{blobName}", cancellationToken);
        }
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>Deletes a blob. False if it did not exist.</summary>
    public async Task<bool> DeleteAsync(string blobName, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, BlobUri(blobName));
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await StorageErrors.FromResponseAsync(response, $"Delete blob {Name}/{blobName}", cancellationToken);
        }
        return true;
    }

    /// <summary>Names of the blobs whose name starts with <paramref name="prefix"/>, page by page.</summary>
    public async IAsyncEnumerable<string> ListBlobNamesAsync(string? prefix = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? marker = null;
        do
        {
            var uri = new StringBuilder(_containerUri).Append("?restype=container&comp=list");
            if (!string.IsNullOrEmpty(prefix))
            {
                uri.Append("&prefix=").Append(Uri.EscapeDataString(prefix));
            }
            if (!string.IsNullOrEmpty(marker))
            {
                uri.Append("&marker=").Append(Uri.EscapeDataString(marker));
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(uri.ToString()));
            using var response = await _http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await StorageErrors.FromResponseAsync(response, $"List blobs in {Name}", cancellationToken);
            }
            var xml = System.Xml.Linq.XDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (var name in xml.Descendants("Blob").Select(b => b.Element("Name")?.Value).OfType<string>())
            {
                yield return name;
            }
            marker = xml.Root?.Element("NextMarker")?.Value;
        }
        while (!string.IsNullOrEmpty(marker));
    }

    /// <summary>The blob's own Content-Type and Content-Disposition, served to whoever downloads it.</summary>
    private static void AddBlobHeaders(HttpRequestMessage request, BlobUploadOptions? options)
    {
        if (options?.ContentType is { } type)
        {
            request.Headers.TryAddWithoutValidation("x-ms-blob-content-type", type);
        }
        if (options?.ContentDisposition is { } disposition)
        {
            request.Headers.TryAddWithoutValidation("x-ms-blob-content-disposition", disposition);
        }
    }

    private Uri BlobUri(string blobName) =>
        new(_containerUri + "/" + string.Join('/', blobName.Split('/').Select(Uri.EscapeDataString)));
}

public sealed record BlobUploadOptions(string? ContentType = null, string? ContentDisposition = null);
