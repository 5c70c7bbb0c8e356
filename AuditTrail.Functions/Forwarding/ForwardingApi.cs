using System.Text.Json;
using AuditTrail.Core.Access;
using AuditTrail.Core.Forwarding;
using AuditTrail.Functions.Access;
using AuditTrail.Functions.Hosting;
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
        var settings = app.MapGroup("/api/workspaces/{workspaceId}/settings/audit-forwarding")
            .RequireWorkspaceRole(Roles.Owner)
            .WithTags("Forwarding");

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

        if (app.ServiceProvider.GetRequiredService<HostingSettings>().InvocationEndpoints)
        {
            app.MapPost("/" + QueueFunction, InvokeAsync).ExcludeFromDescription();
        }
        return app;
    }

    private static async Task<IResult> GetAsync(string workspaceId, ForwardingSettingsService forwarding, CancellationToken cancellationToken)
    {
        var current = await forwarding.GetAsync(workspaceId, cancellationToken);
        return TypedResults.Json(forwarding.View(current), AuditTrailJsonContext.Default.ForwardingSettingsView);
    }

    private static async Task<IResult> PutAsync(string workspaceId, Caller caller, HttpRequest request, ForwardingSettingsService forwarding, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadJsonAsync(request, "the settings as a JSON object", MaxSettingsBodyBytes, cancellationToken);
        var update = ReadUpdate(body);
        var saved = await forwarding.UpdateAsync(workspaceId, update, new SettingsActor("token", caller.TokenId), cancellationToken);
        return TypedResults.Json(forwarding.View(saved), AuditTrailJsonContext.Default.ForwardingSettingsView);
    }

    /// <summary>
    /// 202: the messages are back on the forward queue; the forwarder sends them as it does any
    /// other. Up to <see cref="ForwardingDeadLetters.MaxPerResend"/> a call; <c>more</c> says to call again.
    /// </summary>
    private static async Task<IResult> ResendAsync(string workspaceId, Caller caller, ForwardingDeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var result = await deadLetters.ResendAsync(workspaceId, new SettingsActor("token", caller.TokenId), cancellationToken);
        return TypedResults.Json(result, AuditTrailJsonContext.Default.ForwardingResendResult, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>Strict: an object of the four known fields with the right types, nothing else.</summary>
    internal static ForwardingSettingsUpdate ReadUpdate(byte[] body)
    {
        using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ProblemException(StatusCodes.Status400BadRequest, "not_an_object", "Body must be an object",
                "Send an object with any of: enabled, writeKey, endpoint, suppressTransientFailures.");
        }
        bool? enabled = null, suppress = null;
        string? writeKey = null, endpoint = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (!seen.Add(p.Name))
            {
                throw Invalid("duplicate_field", p.Name, $"Field '{p.Name}' appears more than once.");
            }
            switch (p.Name)
            {
                case "enabled":
                    enabled = Bool(p);
                    break;
                case "suppressTransientFailures":
                    suppress = Bool(p);
                    break;
                case "writeKey":
                    writeKey = Text(p);
                    break;
                case "endpoint":
                    endpoint = Text(p);
                    break;
                default:
                    throw Invalid("unknown_field", p.Name, $"Unknown field '{p.Name[..Math.Min(p.Name.Length, 64)]}'. Known: enabled, writeKey, endpoint, suppressTransientFailures.");
            }
        }
        return new ForwardingSettingsUpdate(enabled, writeKey, endpoint, suppress);

        static bool Bool(JsonProperty p) => p.Value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid("invalid_field", p.Name, $"'{p.Name}' must be true or false."),
        };
        static string Text(JsonProperty p) => p.Value.ValueKind == JsonValueKind.String
            ? p.Value.GetString()!
            : throw Invalid("invalid_field", p.Name, $"'{p.Name}' must be a string.");
        static ProblemException Invalid(string code, string field, string detail) =>
            new(StatusCodes.Status400BadRequest, code, "Invalid forwarding settings", detail, field);
    }

    /// <summary>
    /// The queue trigger. 2xx means the message is done (delivered, forwarding off, refused for
    /// good, or unreadable and dead-lettered); a transient failure answers 500, which fails the
    /// invocation so the host makes the message visible again and poisons it after maxDequeueCount.
    /// </summary>
    private static async Task<IResult> InvokeAsync(HttpRequest request, EventForwarder forwarder, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (invocation, bytes) = await HostInvocation.ReadQueueInvocationAsync(request, QueueBinding, cancellationToken);
        try
        {
            var result = invocation.MessageText is null
                ? await forwarder.DeadLetterAsync(System.Text.Encoding.UTF8.GetString(bytes), invocation.Error!, cancellationToken)
                : await forwarder.ForwardAsync(invocation.MessageText, invocation.DequeueCount, cancellationToken);
            return Invocation(StatusCodes.Status200OK, result.Summary);
        }
        catch (ForwardingTransientException ex)
        {
            loggers.CreateLogger(typeof(ForwardingApi)).LogWarning("Forward message {MessageId} failed on try {DequeueCount}; the host will retry: {Reason}",
                invocation.MessageId, invocation.DequeueCount, ex.Message);
            return Invocation(StatusCodes.Status500InternalServerError, ex.Message);
        }
    }

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<InvocationResponse> Invocation(int status, string log) => TypedResults.Json(
        new InvocationResponse(new Dictionary<string, JsonElement>(), [log], null), AuditTrailJsonContext.Default.InvocationResponse, statusCode: status);
}
