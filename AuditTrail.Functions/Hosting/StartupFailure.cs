using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Hosting;

/// <summary>A setting the app cannot start with; the message names it and says what it takes.</summary>
public sealed class InvalidSettingException(string setting, string message) : Exception(message)
{
    public string Setting { get; } = setting;
}

/// <summary>
/// Turns the ways a bad setting surfaces at start (an <see cref="InvalidSettingException"/>, an
/// options validation failure, a value the configuration binder cannot convert) into one line for
/// the operator. Anything else is a defect and keeps its stack trace.
/// </summary>
public static partial class StartupFailure
{
    /// <summary>The line to print, or null when <paramref name="exception"/> is not about a setting.</summary>
    public static string? Describe(Exception exception)
    {
        var lines = Problems(exception).ToList();
        return lines.Count == 0 || lines.Contains(null) ? null : "Audit Trail cannot start: " + OneLine(string.Join(" ", lines.Distinct(StringComparer.Ordinal)));
    }

    private static IEnumerable<string?> Problems(Exception exception)
    {
        switch (exception)
        {
            case AggregateException aggregate:
                foreach (var inner in aggregate.Flatten().InnerExceptions)
                {
                    foreach (var line in Problems(inner))
                    {
                        yield return line;
                    }
                }
                break;
            case InvalidSettingException setting:
                yield return setting.Message;
                break;
            case OptionsValidationException validation:
                foreach (var failure in validation.Failures)
                {
                    yield return Failure(validation.OptionsType, failure);
                }
                break;
            case InvalidOperationException conversion when ConversionFailure().Match(conversion.Message) is { Success: true } m:
                yield return $"Setting '{m.Groups["key"].Value}' cannot be read as {Kind(m.Groups["type"].Value)}; set {Kind(m.Groups["type"].Value)} or remove the setting to use its default.";
                break;
            default:
                yield return null;
                break;
        }
    }

    /// <summary>A data-annotation failure names only the property; the setting is the options type's section and it.</summary>
    private static string Failure(Type optionsType, string failure)
    {
        var annotation = AnnotationFailure().Match(failure);
        if (!annotation.Success)
        {
            return failure.TrimEnd('.') + ".";
        }
        var section = optionsType.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string;
        var key = section is null ? annotation.Groups["member"].Value : section + ":" + annotation.Groups["member"].Value;
        return $"Setting '{key}' is not usable: {annotation.Groups["error"].Value.TrimEnd('.')}.";
    }

    private static string Kind(string type) => type switch
    {
        "System.Boolean" => "true or false",
        "System.Int32" or "System.Int64" => "a whole number",
        "System.TimeSpan" => "a time span such as 00:00:30",
        "System.Uri" => "an absolute URL",
        _ => "a " + type[(type.LastIndexOf('.') + 1)..],
    };

    private static string OneLine(string text) => NewLines().Replace(text, " ");

    [GeneratedRegex(@"at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();

    [GeneratedRegex(@"^DataAnnotation validation failed for '[^']*' members: '(?<member>[^']+)' with the error: '(?<error>.*)'\.?$", RegexOptions.Singleline)]
    private static partial Regex AnnotationFailure();

    [GeneratedRegex(@"\s*[\r\n]+\s*")]
    private static partial Regex NewLines();
}
