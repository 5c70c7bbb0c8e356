using AuditTrail.Core.Storage;
using Microsoft.Extensions.Options;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// One deadline for all the storage work of an API request (<c>AuditStorage:Retry:RequestDeadline</c>).
/// The request's <see cref="HttpContext.RequestAborted"/> is replaced, for the handlers, by a token
/// that also fires when the deadline passes, so every storage call of the request (each one passes
/// it on) stops at the same moment whatever try or back-off it is in. The exception that follows
/// is answered by <see cref="ProblemDetailsMap"/>: 503 <c>storage_unavailable</c> with Retry-After.
/// Trigger invocations from the Functions host are left alone: the host bounds them itself
/// (<c>functionTimeout</c>), and a batch of 100 large messages may rightly take longer.
/// </summary>
public sealed class StorageDeadline(RequestDelegate next, IOptions<AuditStorageOptions> storage)
{
    private readonly TimeSpan _deadline = storage.Value.Retry.RequestDeadline;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }
        var client = context.RequestAborted;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(client);
        deadline.CancelAfter(_deadline);
        var passed = new Passed(_deadline, deadline.Token, client);
        context.Features.Set(passed);
        context.RequestAborted = deadline.Token;
        try
        {
            await next(context);
        }
        finally
        {
            // The exception handler runs outside this middleware and must see the client's own token,
            // to tell a client that left (499) from a deadline that passed (503).
            context.RequestAborted = client;
        }
    }

    /// <summary>Whether the request's deadline, rather than its client, stopped it.</summary>
    public sealed class Passed(TimeSpan after, CancellationToken deadline, CancellationToken client)
    {
        public TimeSpan After { get; } = after;

        public bool Expired => deadline.IsCancellationRequested && !client.IsCancellationRequested;
    }
}
