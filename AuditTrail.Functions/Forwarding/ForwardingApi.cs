using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Forwarding;
using ForwardingResendResult = AuditTrail.Functions.Forwarding.Wire.ForwardingResendResult;
using ForwardingSettingsView = AuditTrail.Functions.Forwarding.Wire.ForwardingSettingsView;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Forwarding.Wire;
using AuditTrail.Functions.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using AuditTrail.Functions.Ingestion;

namespace AuditTrail.Functions.Forwarding;

/// <summary>
/// Forwarding: an owner's settings (<c>/settings/audit-forwarding</c>) and the queue function
/// <c>ForwardAuditEvents</c> that the host invokes for each message on <c>audit-forward</c>.
/// </summary>
public static class ForwardingApi
{
    /// <summary>The queue-triggered function's name: its folder, and the path the host POSTs to.</summary>
    public const string QueueFunction = "ForwardAuditEvents";

    /// <summary>The trigger binding's name in its function.json.</summary>
    public const string QueueBinding = "message";

    private const int MaxSettingsBodyBytes = 8 * 1024;

    public static IEndpointRouteBuilder MapForwardingApi(this IEndpointRouteBuilder app)
    {
        var settings = app.MapWorkspaceGroup("/settings/audit-forwarding", "Forwarding", Roles.Owner);

        settings.MapGet("/", GetAsync)
            .WithName("GetAuditForwarding")
            .WithSummary("The workspace's audit forwarding settings (the write key only as a hint).")
            .Produces<ForwardingSettingsView>();

        settings.MapPut("/", PutAsync)
            .WithName("PutAuditForwarding")
            .WithSummary("Change audit forwarding; absent fields keep their value, the write key is write-only.")
            .Accepts<ForwardingSettingsUpdate>("application/json")
            .Produces<ForwardingSettingsView>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        settings.MapPost("/resend", ResendAsync)
            .WithName("ResendAuditForwardingDeadLetters")
            .WithSummary("Queue this workspace's dead-lettered forwards again (after fixing the key or endpoint), with their original messageIds.")
            .Produces<ForwardingResendResult>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest);

        return app;
    }

    // The settings are written with the app's own serializer options (absent, not null, when unset),
    // so these answers are JSON results, and their shapes declared on the routes.
    private static async Task<JsonHttpResult<ForwardingSettingsView>> GetAsync(string workspaceId, ForwardingSettingsService forwarding, CancellationToken cancellationToken) =>
        View(forwarding.View(await forwarding.GetAsync(workspaceId, cancellationToken)));

    private static JsonHttpResult<ForwardingSettingsView> View(Core.Forwarding.ForwardingSettingsView view) =>
        TypedResults.Json(ForwardingSettingsView.From(view), AuditTrailJsonContext.Default.ForwardingSettingsView);

    private static async Task<Results<JsonHttpResult<ForwardingSettingsView>, ApiProblem>> PutAsync(
        string workspaceId, Caller caller, HttpRequest request, ForwardingSettingsService forwarding, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadJsonAsync(request, "the settings as a JSON object", MaxSettingsBodyBytes, cancellationToken);
        var (update, invalid) = ReadUpdate(body);
        if (update is null)
        {
            return invalid!;
        }
        var change = await forwarding.UpdateAsync(workspaceId, update, new SettingsActor("token", caller.TokenId), cancellationToken);
        return change.Refusal is { } refusal
            ? Invalid(refusal.Code, refusal.Field, refusal.Message)
            : View(forwarding.View(change.Settings!));
    }

    /// <summary>
    /// 202: the messages are back on the forward queue; the forwarder sends them as it does any
    /// other. Up to <see cref="ForwardingDeadLetters.MaxPerResend"/> a call; <c>more</c> says to call again.
    /// </summary>
    private static async Task<JsonHttpResult<ForwardingResendResult>> ResendAsync(string workspaceId, Caller caller, ForwardingDeadLetters deadLetters, CancellationToken cancellationToken) =>
        TypedResults.Json(ForwardingResendResult.From(await deadLetters.ResendAsync(workspaceId, new SettingsActor("token", caller.TokenId), cancellationToken)),
            AuditTrailJsonContext.Default.ForwardingResendResult, statusCode: StatusCodes.Status202Accepted);

    /// <summary>Strict: an object of the four known fields with the right types, nothing else; or the 400 that says what is wrong.</summary>
    internal static (ForwardingSettingsUpdate? Update, ApiProblem? Invalid) ReadUpdate(byte[] body)
    {
        using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            return (null, ApiProblem.BadRequest("not_an_object", "Body must be an object", "Send an object with any of: enabled, writeKey, endpoint, suppressTransientFailures."));
        }
        bool? enabled = null, suppress = null;
        string? writeKey = null, endpoint = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (!seen.Add(p.Name))
            {
                return (null, Invalid("duplicate_field", p.Name, $"Field '{p.Name}' appears more than once."));
            }
            var wrong = p.Name switch
            {
                "enabled" => Bool(p, ref enabled),
                "suppressTransientFailures" => Bool(p, ref suppress),
                "writeKey" => Text(p, ref writeKey),
                "endpoint" => Text(p, ref endpoint),
                _ => Invalid("unknown_field", p.Name, $"Unknown field '{p.Name[..Math.Min(p.Name.Length, 64)]}'. Known: enabled, writeKey, endpoint, suppressTransientFailures."),
            };
            if (wrong is not null)
            {
                return (null, wrong);
            }
        }
        return (new ForwardingSettingsUpdate(enabled, writeKey, endpoint, suppress), null);

        static ApiProblem? Bool(JsonProperty p, ref bool? value)
        {
            value = p.Value.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null };
            return value is null ? Invalid("invalid_field", p.Name, $"'{p.Name}' must be true or false.") : null;
        }
        static ApiProblem? Text(JsonProperty p, ref string? value)
        {
            value = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : null;
            return value is null ? Invalid("invalid_field", p.Name, $"'{p.Name}' must be a string.") : null;
        }
    }

    private static ApiProblem Invalid(string code, string field, string detail) => ApiProblem.BadRequest(code, "Invalid forwarding settings", detail, field);
}
