using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using AuditTrail.Core.Access;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace AuditTrail.Functions.Hosting;

/// <summary>
/// A request refused because its caller (address, token or workspace) is over a limit, or because
/// too many verifications or exports of its workspace already run: 429 <c>rate_limited</c> with
/// Retry-After (<see cref="ProblemDetailsMap"/>).
/// </summary>
public sealed class RateLimitedException(TimeSpan retryAfter, string message) : Exception(message)
{
    public const string Code = "rate_limited";

    public TimeSpan RetryAfter { get; } = retryAfter;

    /// <summary>Whole seconds, at least one: Retry-After takes no fractions, and zero would invite an immediate retry.</summary>
    public static string Seconds(TimeSpan wait) =>
        Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}

/// <summary>Marks a route as costly: it counts in the workspace's costly bucket too (when <see cref="Applies"/> says so for the request).</summary>
public sealed record CostlyRequestMetadata(Func<HttpRequest, bool> Applies);

/// <summary>
/// The routes no limit applies to, by route pattern: the Functions host's invocation endpoints
/// (limiting them would fail an invocation, and the host would retry or, for a batch it gives up
/// on, lose events; the host paces them itself), and the page, its assets and <c>/api/status</c>,
/// which are served from memory, touch no storage and must answer the host's and probes' checks
/// whatever a flood from one address does.
/// </summary>
public static class RateLimitExemptions
{
    /// <summary>The non-HTTP functions of <c>functions/</c>: the host POSTs each invocation to <c>/{name}</c>.</summary>
    public static readonly IReadOnlyList<string> HostOnlyFunctions =
    [
        Ingestion.IngestionApi.EventHubFunction,
        Forwarding.ForwardingApi.QueueFunction,
        Export.ExportApi.QueueFunction,
        Integrity.IntegrityApi.TimerFunction,
        Retention.RetentionApi.TimerFunction,
    ];

    public const string StatusPath = "/api/status";

    /// <summary>Whether requests that matched the route <paramref name="pattern"/> (as mapped, leading slash) are never limited.</summary>
    public static bool IsExempt(string? pattern)
    {
        if (pattern is null)
        {
            return false; // no route matched: a 404 is limited like anything else an address sends
        }
        var path = pattern.StartsWith('/') ? pattern : "/" + pattern;
        return path == Page.PageApi.PagePath
               || path.StartsWith(Page.PageApi.AssetsPrefix, StringComparison.OrdinalIgnoreCase)
               || string.Equals(path, StatusPath, StringComparison.OrdinalIgnoreCase)
               || HostOnlyFunctions.Any(f => string.Equals(path, "/" + f, StringComparison.OrdinalIgnoreCase));
    }

    internal static bool IsExempt(HttpContext http) =>
        IsExempt((http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText);
}

/// <summary>
/// The caller's address for the per-address limit. Standalone, it is the connection's remote
/// address, and an X-Forwarded-For header is ignored: anyone can send one, so honouring it would
/// let every request claim a fresh address. Under the Functions host every request comes from the
/// host on loopback, and the platform's front end appends the address it accepted the connection
/// from to X-Forwarded-For; entries to its left are whatever the client sent. So only the last
/// (rightmost) entry is trusted, and only in custom-handler mode. IPv6 addresses are limited per
/// /64, the block one subscriber is given, so rotating addresses inside it does not escape.
/// </summary>
public static class ClientAddress
{
    public const string ForwardedForHeader = "X-Forwarded-For";

    /// <summary>Whatever address the request cannot be tied to shares one bucket.</summary>
    public const string Unknown = "unknown";

    public static string Key(HttpContext http, HostingMode mode)
    {
        ArgumentNullException.ThrowIfNull(http);
        var address = (mode == HostingMode.CustomHandler ? LastForwarded(http.Request.Headers[ForwardedForHeader]) : null)
                      ?? http.Connection.RemoteIpAddress;
        return address is null ? Unknown : Normalize(address);
    }

    /// <summary>The rightmost entry of X-Forwarded-For (over all its header lines), which the platform wrote; it may carry a port.</summary>
    public static IPAddress? LastForwarded(StringValues forwardedFor)
    {
        for (var i = forwardedFor.Count - 1; i >= 0; i--)
        {
            var entries = (forwardedFor[i] ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (entries.Length > 0)
            {
                var last = entries[^1];
                return IPAddress.TryParse(last, out var ip) ? ip
                    : IPEndPoint.TryParse(last, out var endpoint) ? endpoint.Address
                    : null; // the platform's own entry is unreadable: fall back to the connection, never to an entry the client wrote
            }
        }
        return null;
    }

    public static string Normalize(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}

/// <summary>
/// The limits that apply once a request's token is known (the workspace authorization calls
/// <see cref="Admit"/> after the token and role checks): per token, per workspace and per
/// workspace for costly requests, and the bounds on verifications and exports running at once.
/// Only authorised requests count here, so nobody without a workspace's token can spend its
/// buckets; the per-address limit in front of authentication covers everyone else.
/// </summary>
/// <remarks>
/// These are the token buckets and concurrency limiters of System.Threading.RateLimiting, the ones
/// ASP.NET Core's rate-limiting middleware runs; they are called here rather than as the
/// middleware's policies because the middleware runs before authentication,
/// and a partition keyed on an unchecked token or a route's workspace id would let a stranger
/// drain another tenant's bucket. All state is per instance: with several instances each enforces
/// its own buckets (docs/architecture.md, "Rate limits").
/// </remarks>
public sealed class WorkspaceRateLimits : IDisposable
{
    private readonly RateLimitOptions _options;
    private readonly ILogger<WorkspaceRateLimits> _logger;
    private readonly PartitionedRateLimiter<string> _perToken;
    private readonly PartitionedRateLimiter<string> _perWorkspace;
    private readonly PartitionedRateLimiter<string> _costly;
    private readonly PartitionedRateLimiter<string> _verifications;
    private readonly PartitionedRateLimiter<string> _exportCreation;

    public WorkspaceRateLimits(IOptions<RateLimitOptions> options, ILogger<WorkspaceRateLimits> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
        var o = _options;
        _perToken = Buckets(o.PerTokenBurst, o.PerTokenRate, o.ReplenishmentPeriod);
        _perWorkspace = Buckets(o.PerWorkspaceBurst, o.PerWorkspaceRate, o.ReplenishmentPeriod);
        _costly = Buckets(o.CostlyBurst, o.CostlyRate, o.ReplenishmentPeriod);
        _verifications = PartitionedRateLimiter.Create<string, string>(ws => RateLimitPartition.GetConcurrencyLimiter(ws,
            _ => new ConcurrencyLimiterOptions { PermitLimit = o.MaxConcurrentVerifications, QueueLimit = 0 }));
        // Creating an export is checked (count the unfinished) and done (add the row) as one step per
        // workspace, so two requests at once cannot both see room for one more. The wait is short
        // (two storage calls) and bounded by the request's storage deadline; a long queue is refused.
        _exportCreation = PartitionedRateLimiter.Create<string, string>(ws => RateLimitPartition.GetConcurrencyLimiter(ws,
            _ => new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 16, QueueProcessingOrder = QueueProcessingOrder.OldestFirst }));
    }

    /// <summary>Token buckets per key; replenished by the limiter's own timer (the rate is per period, whatever the clock of the app says).</summary>
    internal static PartitionedRateLimiter<string> Buckets(int burst, int rate, TimeSpan period) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => Bucket(burst, rate, period)));

    internal static TokenBucketRateLimiterOptions Bucket(int burst, int rate, TimeSpan period) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = rate,
        ReplenishmentPeriod = period,
        AutoReplenishment = true,
        QueueLimit = 0, // over the limit is an answer at once, never a request parked in memory
    };

    /// <summary>Counts one authorised request of token <paramref name="tokenId"/> on <paramref name="workspaceId"/>; throws <see cref="RateLimitedException"/> when a bucket is empty.</summary>
    public void Admit(HttpContext http, string tokenId, string workspaceId)
    {
        ArgumentNullException.ThrowIfNull(http);
        var costly = http.GetEndpoint()?.Metadata.GetMetadata<CostlyRequestMetadata>()?.Applies(http.Request) ?? false;
        Take(_perToken, tokenId, http, workspaceId, "this access token", tokenId);
        Take(_perWorkspace, workspaceId, http, workspaceId, "this workspace", tokenId);
        if (costly)
        {
            Take(_costly, workspaceId, http, workspaceId, "this workspace's costly requests (activity, verification, exports, queries of several event types)", tokenId);
        }
    }

    private void Take(PartitionedRateLimiter<string> limiter, string key, HttpContext http, string workspaceId, string what, string tokenId)
    {
        using var lease = limiter.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return;
        }
        var wait = RetryAfter(lease, _options.ReplenishmentPeriod);
        _logger.LogInformation("{Method} {Path} by token {TokenId} of workspace {WorkspaceId} is over the limit of {Limit}; retry after {RetryAfter}",
            http.Request.Method, http.Request.Path, tokenId, workspaceId, what, wait);
        throw new RateLimitedException(wait, $"Too many requests for {what}. Wait as long as Retry-After says before sending it again.");
    }

    /// <summary>
    /// Holds one of the workspace's verification slots for as long as the returned lease lives, or
    /// refuses at once: a verification reads every row of its range, and a second one of the same
    /// workspace would only read the same rows again. Refusing is an honest answer at once; waiting
    /// would hold a request (and its connection) for as long as the first one reads.
    /// </summary>
    public IDisposable StartVerification(string workspaceId)
    {
        var lease = _verifications.AttemptAcquire(workspaceId);
        if (lease.IsAcquired)
        {
            return lease;
        }
        lease.Dispose();
        throw new RateLimitedException(_options.BusyRetryAfter,
            "A verification of this workspace is already running, and one runs at a time. Wait as long as Retry-After says before asking again.");
    }

    /// <summary>
    /// Runs <paramref name="create"/> when the workspace has fewer than <see cref="RateLimitOptions.MaxRunningExports"/>
    /// exports accepted and not finished (<paramref name="countUnfinished"/>); refuses with 429 otherwise.
    /// </summary>
    public async Task<T> CreateExportAsync<T>(string workspaceId, Func<CancellationToken, Task<int>> countUnfinished, Func<CancellationToken, Task<T>> create, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(countUnfinished);
        ArgumentNullException.ThrowIfNull(create);
        using var turn = await _exportCreation.AcquireAsync(workspaceId, 1, cancellationToken);
        if (!turn.IsAcquired)
        {
            throw new RateLimitedException(_options.BusyRetryAfter, "Too many exports of this workspace are being asked for at once. Wait as long as Retry-After says before asking again.");
        }
        var unfinished = await countUnfinished(cancellationToken);
        if (unfinished >= _options.MaxRunningExports)
        {
            _logger.LogInformation("Export of workspace {WorkspaceId} refused: {Unfinished} exports are not finished (at most {MaxRunningExports})",
                workspaceId, unfinished, _options.MaxRunningExports);
            throw new RateLimitedException(_options.BusyRetryAfter, string.Create(CultureInfo.InvariantCulture,
                $"This workspace has {unfinished} exports queued or running, the most it may have at once. Retry once one has finished (GET its status address)."));
        }
        return await create(cancellationToken);
    }

    internal static TimeSpan RetryAfter(RateLimitLease lease, TimeSpan fallback) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) && wait > TimeSpan.Zero ? wait : fallback;

    public void Dispose()
    {
        _perToken.Dispose();
        _perWorkspace.Dispose();
        _costly.Dispose();
        _verifications.Dispose();
        _exportCreation.Dispose();
    }
}

public static class RateLimitingExtensions
{
    /// <summary>Counts the route's requests (those <paramref name="when"/> holds for; all by default) in the workspace's costly bucket too.</summary>
    public static TBuilder CountsAsCostly<TBuilder>(this TBuilder builder, Func<HttpRequest, bool>? when = null) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CostlyRequestMetadata(when ?? (_ => true)));

    /// <summary>
    /// Runs the route's requests at most <see cref="RateLimitOptions.MaxConcurrentVerifications"/> at a
    /// time per workspace (<see cref="WorkspaceRateLimits.StartVerification"/>); added after the
    /// group's token check, so only an owner's request can hold the slot.
    /// </summary>
    public static TBuilder OneVerificationAtATime<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var workspaceId = (string)http.Request.RouteValues["workspaceId"]!;
            using var slot = http.RequestServices.GetRequiredService<WorkspaceRateLimits>().StartVerification(workspaceId);
            return await next(context);
        });

    /// <summary>
    /// The rate limits (<c>AuditTrail:RateLimits</c>, checked at start): ASP.NET Core's rate-limiting
    /// middleware with one global token bucket per client address, and <see cref="WorkspaceRateLimits"/>
    /// for the limits that need the token.
    /// </summary>
    public static IServiceCollection AddAuditTrailRateLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>()
            .BindConfiguration(RateLimitOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Problem() is null,
                $"Settings '{RateLimitOptions.Section}' are not usable: each rate (PerAddressRate, PerTokenRate, PerWorkspaceRate, CostlyRate) must be at most its burst (PerAddressBurst, PerTokenBurst, PerWorkspaceBurst, CostlyBurst).")
            .ValidateOnStart();
        services.AddSingleton<WorkspaceRateLimits>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>, IServiceProvider>((o, limits, provider) =>
        {
            var settings = limits.Value;
            // Resolved here, not captured at registration: a test host may set the mode's settings late.
            var mode = provider.GetService<HostingSettings>()?.Mode ?? HostingMode.Standalone;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitExemptions.IsExempt(http)
                ? RateLimitPartition.GetNoLimiter("\0exempt")
                : RateLimitPartition.GetTokenBucketLimiter(ClientAddress.Key(http, mode),
                    _ => WorkspaceRateLimits.Bucket(settings.PerAddressBurst, settings.PerAddressRate, settings.ReplenishmentPeriod)));
            o.OnRejected = async (context, cancellationToken) =>
            {
                var http = context.HttpContext;
                var wait = WorkspaceRateLimits.RetryAfter(context.Lease, settings.ReplenishmentPeriod);
                // Debug, not Information: this is the answer to a flood, and a log line per refused
                // request would carry the flood into the logs (the middleware's metric counts them).
                http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("AuditTrail.RateLimits").LogDebug(
                    "{Method} {Path} from {ClientAddress} is over the per-address limit; retry after {RetryAfter}",
                    http.Request.Method, http.Request.Path, ClientAddress.Key(http, mode), wait);
                await ProblemDetailsMap.WriteRateLimitedAsync(http,
                    new RateLimitedException(wait, "Too many requests from this address. Wait as long as Retry-After says before sending more."), cancellationToken);
            };
        });
        return services;
    }
}
