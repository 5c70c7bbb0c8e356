using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AuditTrail.Core.Storage;

public enum StorageService
{
    Blob,
    Queue,
    Table,
}

/// <summary>
/// Signs each request with Shared Key just before it goes on the wire, so the signature covers the
/// final headers (content type and length are only known once content is attached) and every retry
/// gets a fresh <c>x-ms-date</c>.
/// </summary>
public sealed class SharedKeyHandler : DelegatingHandler
{
    public const string ApiVersion = "2021-12-02";

    private readonly StorageAccount _account;
    private readonly StorageService _service;
    private readonly TimeProvider _time;

    public SharedKeyHandler(StorageAccount account, StorageService service, TimeProvider? time = null)
    {
        _account = account;
        _service = service;
        _time = time ?? TimeProvider.System;
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Sign(request);
        return base.SendAsync(request, cancellationToken);
    }

    internal void Sign(HttpRequestMessage request)
    {
        var headers = request.Headers;
        StampDateAndVersion(request, _time);

        var stringToSign = _service == StorageService.Table ? TableStringToSign(request) : BlobQueueStringToSign(request);
        using var hmac = new HMACSHA256(_account.Key!); // built only for accounts with a key (StorageClients)
        var signature = Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(stringToSign)));
        headers.Remove("Authorization");
        headers.TryAddWithoutValidation("Authorization", $"SharedKey {_account.Name}:{signature}");
    }

    /// <summary>
    /// The headers every storage request carries whatever authorizes it: a fresh <c>x-ms-date</c> on
    /// each try, and the API version unless the caller chose one.
    /// </summary>
    internal static void StampDateAndVersion(HttpRequestMessage request, TimeProvider time)
    {
        var headers = request.Headers;
        headers.Remove("x-ms-date");
        headers.TryAddWithoutValidation("x-ms-date", time.GetUtcNow().ToString("R", CultureInfo.InvariantCulture));
        if (!headers.Contains("x-ms-version"))
        {
            headers.TryAddWithoutValidation("x-ms-version", ApiVersion);
        }
    }

    private string TableStringToSign(HttpRequestMessage request)
    {
        var uri = request.RequestUri!;
        var md5 = request.Content?.Headers.ContentMD5 is { } m ? Convert.ToBase64String(m) : string.Empty;
        var contentType = request.Content?.Headers.ContentType?.ToString() ?? string.Empty;
        var date = request.Headers.GetValues("x-ms-date").First();
        var resource = new StringBuilder("/").Append(_account.Name).Append(uri.AbsolutePath);
        var comp = QueryParameters(uri).Where(p => p.Name.Equals("comp", StringComparison.OrdinalIgnoreCase)).Select(p => p.Value).FirstOrDefault();
        if (comp is not null)
        {
            resource.Append("?comp=").Append(comp);
        }
        return string.Join('\n', request.Method.Method.ToUpperInvariant(), md5, contentType, date, resource.ToString());
    }

    private string BlobQueueStringToSign(HttpRequestMessage request)
    {
        var content = request.Content?.Headers;
        string Header(string name) => request.Headers.TryGetValues(name, out var v) ? string.Join(',', v) : string.Empty;
        string ContentHeader(string name) => content is not null && content.TryGetValues(name, out var v) ? string.Join(',', v) : string.Empty;

        var length = content?.ContentLength is { } len && len > 0 ? len.ToString(CultureInfo.InvariantCulture) : string.Empty;
        var sb = new StringBuilder();
        sb.Append(request.Method.Method.ToUpperInvariant()).Append('\n')
          .Append(ContentHeader("Content-Encoding")).Append('\n')
          .Append(ContentHeader("Content-Language")).Append('\n')
          .Append(length).Append('\n')
          .Append(content?.ContentMD5 is { } md5 ? Convert.ToBase64String(md5) : string.Empty).Append('\n')
          .Append(content?.ContentType?.ToString() ?? string.Empty).Append('\n')
          .Append(string.Empty).Append('\n') // Date: empty because x-ms-date is always sent
          .Append(Header("If-Modified-Since")).Append('\n')
          .Append(Header("If-Match")).Append('\n')
          .Append(Header("If-None-Match")).Append('\n')
          .Append(Header("If-Unmodified-Since")).Append('\n')
          .Append(Header("Range")).Append('\n');

        foreach (var h in request.Headers
                     .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
                     .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(',', h.Value).TrimStart()))
                     .OrderBy(h => h.Name, StringComparer.Ordinal))
        {
            sb.Append(h.Name).Append(':').Append(h.Value).Append('\n');
        }

        var uri = request.RequestUri!;
        sb.Append('/').Append(_account.Name).Append(uri.AbsolutePath);
        foreach (var group in QueryParameters(uri)
                     .GroupBy(p => p.Name.ToLowerInvariant())
                     .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            sb.Append('\n').Append(group.Key).Append(':')
              .Append(string.Join(',', group.Select(p => p.Value).OrderBy(v => v, StringComparer.Ordinal)));
        }
        return sb.ToString();
    }

    private static IEnumerable<(string Name, string Value)> QueryParameters(Uri uri)
    {
        var query = uri.Query.TrimStart('?');
        if (query.Length == 0)
        {
            yield break;
        }
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
            yield return (name, value);
        }
    }
}
