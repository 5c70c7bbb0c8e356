using System.CommandLine;
using System.Globalization;
using AuditTrail.Core.Access;
using AuditTrail.Core.Ingestion;

namespace AuditTrail.Functions.Access;

/// <summary>
/// <c>tokens create|list|revoke</c>: the app's command line for access tokens. The secret is printed
/// once, on the last line of <c>create</c>, so scripts can take it with <c>tail -n 1</c>.
/// </summary>
public static class TokensCommand
{
    public const string Usage = """
        usage:
          tokens create --workspace <id> --role owner|ingest [--name <text>] [--expires-in-days <n>]
          tokens list   --workspace <id>
          tokens revoke --workspace <id> --id <token id>
        """;

    public static Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        Hosting.CommandLine.InvokeAsync(Create(services), args, output, error, cancellationToken);

    internal static Command Create(IServiceProvider services)
    {
        var role = new Option<string>("--role") { Description = "owner or ingest", Required = true };
        var name = new Option<string>("--name") { Description = "what the token is for" };
        var days = Hosting.CommandOptions.PositiveWhole("--expires-in-days", "--expires-in-days must be a whole number of days, 1 or more.");
        var id = new Option<string>("--id") { Description = "the token's id", Required = true };
        var create = Subcommand("create", "create a token and print its secret once", role, name, days);
        create.SetAction((parsed, ct) => RecordedAsync(parsed, "nothing was changed", () => CreateAsync(services, parsed, parsed.GetRequiredValue(role), parsed.GetValue(name), parsed.GetValue(days), ct)));
        var list = Subcommand("list", "list the workspace's tokens, without their secrets");
        list.SetAction((parsed, ct) => RecordedAsync(parsed, "nothing was changed", () => ListAsync(services, parsed, ct)));
        var revoke = Subcommand("revoke", "revoke a token of the workspace", id);
        revoke.SetAction((parsed, ct) => RecordedAsync(parsed, "the token is revoked", () => RevokeAsync(services, parsed, parsed.GetRequiredValue(id), ct)));
        return new Command("tokens", "create, list and revoke access tokens") { create, list, revoke };
    }

    /// <summary>A subcommand of its own <c>--workspace</c> (required) and the given options.</summary>
    private static Command Subcommand(string name, string description, params Option[] options)
    {
        var command = new Command(name, description) { Hosting.CommandOptions.Workspace(required: true) };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
        return command;
    }

    private static string Workspace(ParseResult parsed) => parsed.GetRequiredValue<string>("--workspace");

    private static async Task<int> CreateAsync(IServiceProvider services, ParseResult parsed, string role, string? name, int? days, CancellationToken cancellationToken)
    {
        var output = parsed.InvocationConfiguration.Output;
        var expires = days is { } d ? services.GetRequiredService<TimeProvider>().GetUtcNow().AddDays(d) : (DateTimeOffset?)null;
        var (info, secret) = await services.GetRequiredService<AccessTokenService>().CreateAsync(Workspace(parsed), role, expires, name, cancellationToken);
        await output.WriteLineAsync($"Created {info.Role} token {info.Id} for workspace {info.WorkspaceId} (expires {info.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"}).");
        await output.WriteLineAsync("The token is shown only now; keep it secret:");
        await output.WriteLineAsync(secret);
        return 0;
    }

    private static async Task<int> ListAsync(IServiceProvider services, ParseResult parsed, CancellationToken cancellationToken)
    {
        var output = parsed.InvocationConfiguration.Output;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        await output.WriteLineAsync("id                role    status   created               expires               name");
        foreach (var t in await services.GetRequiredService<AccessTokenService>().ListAsync(Workspace(parsed), cancellationToken))
        {
            var status = t.RevokedAt is not null ? "revoked" : t.ExpiresAt <= now ? "expired" : "active";
            await output.WriteLineAsync($"{t.Id}  {t.Role,-6}  {status,-7}  {t.CreatedAt:u}  {(t.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"),-20}  {t.Name}");
        }
        return 0;
    }

    private static async Task<int> RevokeAsync(IServiceProvider services, ParseResult parsed, string id, CancellationToken cancellationToken)
    {
        var workspace = Workspace(parsed);
        if (!await services.GetRequiredService<AccessTokenService>().RevokeAsync(workspace, id, cancellationToken))
        {
            return Hosting.CommandLine.Refuse(parsed, $"Workspace {workspace} has no token {id}.");
        }
        await parsed.InvocationConfiguration.Output.WriteLineAsync($"Revoked token {id} of workspace {workspace}.");
        return 0;
    }

    /// <summary>
    /// A token action and its audit event: a refusal before the action is exit 2; an event not recorded
    /// after it says what was done all the same (<paramref name="done"/>: a revocation stands, a creation
    /// is undone) and is exit 1.
    /// </summary>
    private static async Task<int> RecordedAsync(ParseResult parsed, string done, Func<Task<int>> action)
    {
        var error = parsed.InvocationConfiguration.Error;
        try
        {
            return await action();
        }
        catch (ArgumentException ex)
        {
            return Hosting.CommandLine.Refuse(parsed, ex.Message);
        }
        catch (UnrecordableActionException ex) when (ex.BeforeAction)
        {
            return Hosting.CommandLine.Refuse(parsed, $"Nothing was changed: the token's audit event would be refused by the trail ({ex.Rejection.Reason}).");
        }
        catch (TrailRecordConflictException ex)
        {
            await error.WriteLineAsync($"error: {done}, but its audit event was not recorded. {ex.Message}");
            return Hosting.CommandLine.Failed;
        }
        catch (UnrecordableActionException ex)
        {
            await error.WriteLineAsync($"error: {done}, but its audit event was not recorded ({ex.Rejection.Reason}); run the command again to record it.");
            return Hosting.CommandLine.Failed;
        }
    }
}
