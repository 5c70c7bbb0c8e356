using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Access;

/// <summary>Every workspace route against every kind of caller: the documented status, and never another workspace's data.</summary>
public sealed class AuthorizationMatrixTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly TestClock _clock = TestClock.AtTestTime();
    private AuditTrailAppFactory _app = null!;
    private HttpClient _http = null!;
    private string _ws = null!;
    private string _otherWs = null!;
    private readonly Dictionary<string, string?> _callers = [];

    public async ValueTask InitializeAsync()
    {
        _app = new AuditTrailAppFactory(azurite.ConnectionString, _clock);
        _http = _app.CreateClient();
        _ws = TestEvents.NewWorkspaceId();
        _otherWs = TestEvents.NewWorkspaceId();
        var tokens = _app.Services.GetRequiredService<AccessTokenService>();
        async Task<string> Create(string ws, string role, DateTimeOffset? expires = null) => (await tokens.CreateAsync(ws, role, expires, "matrix", Ct)).Token;

        _callers["owner"] = await Create(_ws, Roles.Owner);
        _callers["none"] = null;
        _callers["malformed"] = "not-a-token";
        _callers["unknown"] = "atk_0123456789abcdef_" + new string('Z', 43);
        _callers["wrong secret"] = _callers["owner"]![..^5] + "AAAAA";
        _callers["expired"] = await Create(_ws, Roles.Owner, _clock.Now.AddMinutes(1));
        var revoked = await Create(_ws, Roles.Owner);
        Assert.True(AccessTokenService.TryParse(revoked, out var revokedId, out _));
        Assert.True(await tokens.RevokeAsync(_ws, revokedId, Ct));
        _callers["revoked"] = revoked;
        _callers["owner of another workspace"] = await Create(_otherWs, Roles.Owner);
        _callers["ingest-only"] = await Create(_ws, Roles.Ingest);
        _clock.Now = _clock.Now.AddMinutes(2); // the "expired" token is now past its expiry

        // Something to leak, if anything leaked.
        await SendAsync("POST", "owner", $"[{TestEvents.Event(_ws, "evt_secret_of_ws", timestamp: _clock.Now.AddMinutes(-1)).ToJsonString()}]");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    private async Task<HttpResponseMessage> SendAsync(string method, string caller, string? body = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), $"/api/workspaces/{_ws}/audit-events");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        if (_callers[caller] is { } token)
        {
            request.Headers.TryAddWithoutValidation("Authorization", caller == "malformed" ? "Basic dXNlcjpwYXNz" : "Bearer " + token);
        }
        return await _http.SendAsync(request, Ct);
    }

    public static TheoryData<string, string, int, string?> Matrix() => new()
    {
        { "GET", "owner", 200, null },
        { "GET", "none", 401, "missing_token" },
        { "GET", "malformed", 401, "invalid_token" },
        { "GET", "unknown", 401, "invalid_token" },
        { "GET", "wrong secret", 401, "invalid_token" },
        { "GET", "expired", 401, "token_expired" },
        { "GET", "revoked", 401, "token_revoked" },
        { "GET", "owner of another workspace", 403, "forbidden" },
        { "GET", "ingest-only", 403, "insufficient_role" },
        { "POST", "owner", 200, null },
        { "POST", "none", 401, "missing_token" },
        { "POST", "malformed", 401, "invalid_token" },
        { "POST", "unknown", 401, "invalid_token" },
        { "POST", "wrong secret", 401, "invalid_token" },
        { "POST", "expired", 401, "token_expired" },
        { "POST", "revoked", 401, "token_revoked" },
        { "POST", "owner of another workspace", 403, "forbidden" },
        { "POST", "ingest-only", 200, null },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Every_route_answers_each_caller_as_documented_and_never_leaks_another_workspace(string method, string caller, int status, string? code)
    {
        var body = method == "POST" ? $"[{TestEvents.Event(_ws, timestamp: _clock.Now.AddMinutes(-1)).ToJsonString()}]" : null;

        var response = await SendAsync(method, caller, body);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(status, (int)response.StatusCode);
        if (code is not null)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
            Assert.DoesNotContain("evt_secret_of_ws", text, StringComparison.Ordinal);
            Assert.DoesNotContain(_ws, text, StringComparison.Ordinal);
            if (status == 401)
            {
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
            }
        }
        else if (method == "GET")
        {
            Assert.Contains("evt_secret_of_ws", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Owner_of_another_workspace_sees_only_its_own_trail()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/workspaces/{_otherWs}/audit-events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _callers["owner of another workspace"]);

        var response = await _http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ids = (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("value").EnumerateArray()
            .Select(e => e.GetProperty("workspaceId").GetString()).Distinct().ToList();
        Assert.Equal([_otherWs], ids);
    }

    [Fact]
    public async Task Token_lifecycle_is_recorded_in_the_trail_with_the_token_id_never_its_secret()
    {
        var response = await SendAsync("GET", "owner");
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Contains("Access Token Created", text, StringComparison.Ordinal);
        Assert.Contains("Access Token Revoked", text, StringComparison.Ordinal);
        foreach (var token in _callers.Values.OfType<string>().Where(t => t.StartsWith("atk_", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(token[21..], text, StringComparison.Ordinal); // the secret part
        }
    }
}
