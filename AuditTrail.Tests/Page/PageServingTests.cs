using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Page;

/// <summary>How the page and the sign-in route are served, without a browser.</summary>
public sealed class PageServingTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly AuditTrailAppFactory _app = new(azurite.ConnectionString);
    private HttpClient _http = null!;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _http = _app.CreateClient();
        return ValueTask.CompletedTask;
    }

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/assets/app.js", "text/javascript")]
    [InlineData("/assets/view.js", "text/javascript")] // a module app.js imports
    [InlineData("/assets/app.css", "text/css")]
    [InlineData("/assets/favicon.svg", "image/svg+xml")]
    public async Task Page_files_are_served_without_a_token_under_a_strict_content_policy(string path, string mediaType)
    {
        using var response = await _http.GetAsync(path, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.NotNull(response.Headers.ETag);
    }

    [Fact]
    public async Task Under_the_Functions_host_the_page_tells_browsers_to_use_https_only()
    {
        Assert.False((await _http.GetAsync("/", Ct)).Headers.Contains("Strict-Transport-Security")); // standalone: plain http
        await using var hosted = new AuditTrailAppFactory(azurite.ConnectionString, settings: AuditTrailAppFactory.UnderFunctionsHost());

        using var response = await hosted.CreateClient().GetAsync("/", Ct);

        var hsts = response.Headers.GetValues("Strict-Transport-Security").Single();
        Assert.StartsWith("max-age=31536000", hsts, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_has_no_inline_script_or_style_so_the_policy_holds()
    {
        var html = await _http.GetStringAsync("/", Ct);
        Assert.Contains("<script type=\"module\" src=\"/assets/app.js\"></script>", html, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=)[^>]*>", html);
        Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(@"\son[a-z]+\s*=", html);
        Assert.DoesNotMatch(@"\sstyle\s*=", html);
    }

    [Fact]
    public async Task Unchanged_page_revalidates_with_304()
    {
        using var first = await _http.GetAsync("/assets/app.js", Ct);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/assets/app.js");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var second = await _http.SendAsync(again, Ct);
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
    }

    [Fact]
    public async Task Unknown_asset_is_a_problem_not_a_page()
    {
        using var response = await _http.GetAsync("/assets/../appsettings.json", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var other = await _http.GetAsync("/assets/secrets.txt", Ct);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Access_token_route_describes_the_callers_own_token_and_never_its_secret()
    {
        var ws = TestEvents.NewWorkspaceId();
        var expires = DateTimeOffset.UtcNow.AddDays(3);
        var (info, token) = await _app.Services.GetRequiredService<AccessTokenService>().CreateAsync(ws, Roles.Ingest, expires, "CI producer", Ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/access-token");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var response = await _http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(info.Id, body.GetProperty("id").GetString());
        Assert.Equal(ws, body.GetProperty("workspaceId").GetString());
        Assert.Equal("ingest", body.GetProperty("role").GetString());
        Assert.Equal("CI producer", body.GetProperty("name").GetString());
        Assert.Equal(info.ExpiresAt, body.GetProperty("expiresAt").GetDateTimeOffset());
        Assert.DoesNotContain(token, body.GetRawText(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "missing_token")]
    [InlineData("Basic dXNlcjpwYXNz", "invalid_token")]
    [InlineData("Bearer atk_not-a-real-token", "invalid_token")]
    public async Task Access_token_route_refuses_a_missing_or_bad_token_with_401(string? authorization, string code)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/access-token");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        using var response = await _http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Status_route_answers_without_a_token()
    {
        var body = await _http.GetFromJsonAsync<JsonElement>("/api/status", Ct);
        Assert.Equal("ready", body.GetProperty("status").GetString());
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }
}
