using System.Text;
using Azure.Core;

namespace AuditTrail.Tests.Infrastructure;

/// <summary>
/// A stand-in for Microsoft Entra ID: hands out storage tokens as a managed identity would get
/// them (audience storage.azure.com, an Entra issuer, the identity's object and tenant ids), but
/// unsigned. Azurite's OAuth mode checks what is checkable without Entra's keys: audience, issuer
/// and lifetime, so a token for another audience is refused.
/// </summary>
public sealed class EntraTestCredential(string audience = "https://storage.azure.com") : TokenCredential
{
    public const string ObjectId = "23657296-5cd5-45b0-a809-d972a7f4dfe1";
    public const string TenantId = "dd0d0df1-06c3-436c-8034-4b9a153097ce";

    private int _issued;

    /// <summary>How many tokens were asked for.</summary>
    public int Issued => Volatile.Read(ref _issued);

    /// <summary>The scopes of every request for a token.</summary>
    public List<string> Scopes { get; } = [];

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        lock (Scopes)
        {
            Scopes.AddRange(requestContext.Scopes);
        }
        Interlocked.Increment(ref _issued);
        var now = DateTimeOffset.UtcNow;
        var payload = $$"""{"aud":"{{audience}}","iss":"https://sts.windows.net/{{TenantId}}/","iat":{{now.AddMinutes(-1).ToUnixTimeSeconds()}},"nbf":{{now.AddMinutes(-1).ToUnixTimeSeconds()}},"exp":{{now.AddHours(1).ToUnixTimeSeconds()}},"oid":"{{ObjectId}}","tid":"{{TenantId}}"}""";
        return new AccessToken($"{Base64Url("""{"alg":"none","typ":"JWT"}""")}.{Base64Url(payload)}.unsigned", now.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        new(GetToken(requestContext, cancellationToken));

    private static string Base64Url(string text) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
}
