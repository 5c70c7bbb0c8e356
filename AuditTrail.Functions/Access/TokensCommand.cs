using System.Globalization;
using AuditTrail.Core.Access;

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

    public static async Task<int> RunAsync(IServiceProvider services, string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 2; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                return Fail(error, $"Unexpected argument '{args[i]}'.");
            }
            options[args[i][2..]] = args[++i];
        }
        var tokens = services.GetRequiredService<AccessTokenService>();
        var time = services.GetRequiredService<TimeProvider>();
        if (!options.TryGetValue("workspace", out var workspace))
        {
            return Fail(error, "--workspace is required.");
        }
        try
        {
            switch (args.ElementAtOrDefault(1))
            {
                case "create":
                    if (!options.TryGetValue("role", out var role))
                    {
                        return Fail(error, "--role is required (owner or ingest).");
                    }
                    DateTimeOffset? expires = null;
                    if (options.TryGetValue("expires-in-days", out var daysText))
                    {
                        if (!int.TryParse(daysText, NumberStyles.None, CultureInfo.InvariantCulture, out var days) || days < 1)
                        {
                            return Fail(error, "--expires-in-days must be a whole number of days, 1 or more.");
                        }
                        expires = time.GetUtcNow().AddDays(days);
                    }
                    var (info, secret) = await tokens.CreateAsync(workspace, role, expires, options.GetValueOrDefault("name"), cancellationToken);
                    await output.WriteLineAsync($"Created {info.Role} token {info.Id} for workspace {info.WorkspaceId} (expires {info.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"}).");
                    await output.WriteLineAsync("The token is shown only now; keep it secret:");
                    await output.WriteLineAsync(secret);
                    return 0;
                case "list":
                    await output.WriteLineAsync("id                role    status   created               expires               name");
                    foreach (var t in await tokens.ListAsync(workspace, cancellationToken))
                    {
                        var status = t.RevokedAt is not null ? "revoked" : t.ExpiresAt <= time.GetUtcNow() ? "expired" : "active";
                        await output.WriteLineAsync($"{t.Id}  {t.Role,-6}  {status,-7}  {t.CreatedAt:u}  {(t.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"),-20}  {t.Name}");
                    }
                    return 0;
                case "revoke":
                    if (!options.TryGetValue("id", out var id))
                    {
                        return Fail(error, "--id is required.");
                    }
                    if (!await tokens.RevokeAsync(workspace, id, cancellationToken))
                    {
                        return Fail(error, $"Workspace {workspace} has no token {id}.", showUsage: false);
                    }
                    await output.WriteLineAsync($"Revoked token {id} of workspace {workspace}.");
                    return 0;
                default:
                    return Fail(error, "Unknown tokens command.");
            }
        }
        catch (ArgumentException ex)
        {
            return Fail(error, ex.Message, showUsage: false);
        }
        catch (Core.Ingestion.UnrecordableActionException ex) when (ex.BeforeAction)
        {
            return Fail(error, $"Nothing was changed: the token's audit event would be refused by the trail ({ex.Rejection.Reason}).", showUsage: false);
        }
        catch (Core.Ingestion.TrailRecordConflictException ex)
        {
            error.WriteLine($"error: {Done(args)}, but its audit event was not recorded. {ex.Message}");
            return Hosting.CommandLine.Failed;
        }
        catch (Core.Ingestion.UnrecordableActionException ex)
        {
            error.WriteLine($"error: {Done(args)}, but its audit event was not recorded ({ex.Rejection.Reason}); run the command again to record it.");
            return Hosting.CommandLine.Failed;
        }
    }

    /// <summary>What a command whose record failed has done all the same (a revocation stands; a creation is undone).</summary>
    private static string Done(string[] args) => args.ElementAtOrDefault(1) switch
    {
        "revoke" => "the token is revoked",
        _ => "nothing was changed",
    };

    private static int Fail(TextWriter error, string message, bool showUsage = true)
    {
        error.WriteLine("error: " + message);
        if (showUsage)
        {
            error.WriteLine(Usage);
        }
        return 2;
    }
}
