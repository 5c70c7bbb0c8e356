using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using AuditTrail.Core.Events;

namespace AuditTrail.Functions.Hosting;

/// <summary>The options several commands share, each refusing a bad value with the rule it breaks.</summary>
internal static class CommandOptions
{
    /// <summary><c>--workspace &lt;id&gt;</c>, held to the workspace-id rule while parsing.</summary>
    public static Option<string> Workspace(bool required, string? defaultValue = null)
    {
        var option = new Option<string>("--workspace") { Description = "the workspace id", Required = required };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }
        option.Validators.Add(result =>
        {
            if (!WorkspaceIds.IsValid(result.GetValueOrDefault<string>()))
            {
                result.AddError(WorkspaceIds.Rule);
            }
        });
        return option;
    }

    /// <summary>A whole number, 1 or more, written with digits only (no sign, no spaces).</summary>
    public static Option<int?> PositiveWhole(string name, string refusal) => new(name)
    {
        CustomParser = result => Single(result) is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1
            ? value
            : Refused<int>(result, refusal),
    };

    /// <summary>An instant in ISO 8601 with an offset (<see cref="Iso8601.TryParseUtc"/>), as UTC.</summary>
    public static Option<DateTimeOffset?> Instant(string name) => new(name)
    {
        CustomParser = result => Single(result) is { } text && Iso8601.TryParseUtc(text, out var value)
            ? value
            : Refused<DateTimeOffset>(result, $"{name} must be a time in ISO 8601 with an offset (2026-11-23T09:55:09Z)."),
    };

    private static string? Single(ArgumentResult result) => result.Tokens.Count == 1 ? result.Tokens[0].Value : null;

    private static T? Refused<T>(ArgumentResult result, string message)
        where T : struct
    {
        result.AddError(message);
        return null;
    }
}
