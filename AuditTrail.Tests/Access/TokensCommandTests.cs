using AuditTrail.Core.Access;
using AuditTrail.Functions.Access;
using AuditTrail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuditTrail.Tests.Access;

public sealed class TokensCommandTests(AzuriteFixture azurite) : IAsyncDisposable
{
    private readonly AuditTrailAppFactory _app = new(azurite.ConnectionString);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await TokensCommand.RunAsync(_app.Services, ["tokens", .. args], output, error, Ct);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_prints_the_token_once_list_shows_it_without_secret_and_revoke_ends_it()
    {
        var ws = TestEvents.NewWorkspaceId();
        var tokens = _app.Services.GetRequiredService<AccessTokenService>();

        var created = await RunAsync("create", "--workspace", ws, "--role", "owner", "--name", "ci", "--expires-in-days", "30");
        var token = created.Out.TrimEnd().Split('\n')[^1].Trim();
        Assert.Equal(0, created.Exit);
        Assert.Equal(TokenCheck.Valid, (await tokens.ValidateAsync(token, Ct)).Result);
        Assert.True(AccessTokenService.TryParse(token, out var id, out var secret));

        var listed = await RunAsync("list", "--workspace", ws);
        Assert.Contains(id, listed.Out, StringComparison.Ordinal);
        Assert.Contains("active", listed.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listed.Out, StringComparison.Ordinal);

        var revoked = await RunAsync("revoke", "--workspace", ws, "--id", id);
        Assert.Equal(0, revoked.Exit);
        Assert.Equal(TokenCheck.Revoked, (await tokens.ValidateAsync(token, Ct)).Result);
        Assert.Contains("revoked", (await RunAsync("list", "--workspace", ws)).Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("create", "--workspace", "ws_x")]
    [InlineData("create", "--workspace", "ws_x", "--role", "admin")]
    [InlineData("create", "--workspace", "ws/x", "--role", "owner")]
    [InlineData("create", "--role", "owner")]
    [InlineData("revoke", "--workspace", "ws_x", "--id", "0000000000000000")]
    [InlineData("frobnicate", "--workspace", "ws_x")]
    [InlineData("create", "--workspace")]
    public async Task Bad_commands_fail_with_a_message_and_exit_code_2(params string[] args)
    {
        var (exit, _, err) = await RunAsync(args);

        Assert.Equal(2, exit);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_cannot_be_revoked_through_another_workspace()
    {
        var ws = TestEvents.NewWorkspaceId();
        var (_, outText, _) = await RunAsync("create", "--workspace", ws, "--role", "ingest");
        Assert.True(AccessTokenService.TryParse(outText.TrimEnd().Split('\n')[^1].Trim(), out var id, out _));

        var (exit, _, _) = await RunAsync("revoke", "--workspace", TestEvents.NewWorkspaceId(), "--id", id);

        Assert.Equal(2, exit);
    }
}
