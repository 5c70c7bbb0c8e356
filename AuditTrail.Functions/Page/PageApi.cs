using System.Reflection;
using System.Security.Cryptography;
using AuditTrail.Functions.Hosting;
using Microsoft.Net.Http.Headers;

namespace AuditTrail.Functions.Page;

/// <summary>
/// The Audit Trail page: one HTML document at <c>/</c> and its script, style and icon under
/// <c>/assets/</c>, compiled into the assembly so the publish output needs no content folder. The
/// page calls the same token-guarded API as any client; serving it needs no token.
/// </summary>
public static class PageApi
{
    public const string PagePath = "/";
    public const string AssetsPrefix = "/assets/";

    // The page renders workspace data that producers wrote (names, ids, change values): the policy is
    // the second line behind rendering it as text only. No inline script or style is allowed, and the
    // page can fetch only its own origin. Export downloads are navigations, which it does not limit.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string StrictTransportSecurity = "max-age=31536000; includeSubDomains";

    private const string ResourcePrefix = "AuditTrail.Page.";

    // Every file in Page/assets is embedded (the project's glob): index.html is the page at "/", the
    // rest (the script's modules among them) are served under /assets/ by name. A file of another
    // kind fails at start-up rather than being served as something it is not.
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    private static IEnumerable<(string Path, string Resource, string ContentType)> Files() =>
        Assembly.GetExecutingAssembly().GetManifestResourceNames()
            .Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Select(name => name[ResourcePrefix.Length..])
            .Select(file => (file == "index.html" ? PagePath : AssetsPrefix + file, file,
                ContentTypes.TryGetValue(Path.GetExtension(file), out var type)
                    ? type
                    : throw new InvalidOperationException($"The page file '{file}' is of no kind the page serves.")));

    public static IEndpointRouteBuilder MapAuditTrailPage(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ExcludeFromDescription();
        foreach (var (path, resource, contentType) in Files())
        {
            var content = Read(resource);
            var etag = new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
            group.MapMethods(path, [HttpMethods.Get, HttpMethods.Head], (HttpContext http, HostingSettings hosting) =>
            {
                var headers = http.Response.Headers;
                if (hosting.Mode == HostingMode.CustomHandler)
                {
                    // In Azure the page is reached over https only; the host forwards it to this
                    // loopback port over http, so ASP.NET's UseHsts (https requests only) would never
                    // add it. Standalone runs on plain http, where browsers ignore the header anyway.
                    headers.StrictTransportSecurity = StrictTransportSecurity;
                }
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                // Revalidate every time (cheap with the ETag), so a deployment is seen at once.
                headers.CacheControl = "no-cache";
                return TypedResults.Bytes(content, contentType, entityTag: etag);
            });
        }
        return app;
    }

    private static byte[] Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("AuditTrail.Page." + name)
                           ?? throw new InvalidOperationException($"The page file '{name}' is not embedded in the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
