using Azure.Core;

namespace AuditTrail.Core.Storage;

/// <summary>
/// Authorizes each storage request with a Microsoft Entra token (managed identity in Azure), the
/// alternative to <see cref="SharedKeyHandler"/> when the app has no account key. The token is
/// cached and renewed five minutes before it expires; concurrent requests share one renewal.
/// </summary>
public sealed class BearerTokenHandler(TokenCredential credential, TimeProvider? time = null) : DelegatingHandler
{
    /// <summary>The audience for every storage service.</summary>
    public const string Scope = "https://storage.azure.com/.default";

    private static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private AccessToken _token;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await GetTokenAsync(cancellationToken);
        SharedKeyHandler.StampDateAndVersion(request, _time);
        request.Headers.Remove("Authorization");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        return await base.SendAsync(request, cancellationToken);
    }

    private async Task<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (_token.Token is not null && _token.ExpiresOn - RenewBefore > _time.GetUtcNow())
        {
            return _token.Token;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_token.Token is null || _token.ExpiresOn - RenewBefore <= _time.GetUtcNow())
            {
                _token = await credential.GetTokenAsync(new TokenRequestContext([Scope]), cancellationToken);
            }
            return _token.Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gate.Dispose();
        }
        base.Dispose(disposing);
    }
}
