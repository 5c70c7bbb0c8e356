using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AuditTrail.Core.Forwarding;

/// <summary>Resolves a host name to the addresses a connection would use. A seam so tests can play DNS without a network.</summary>
public interface IForwardingHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The system resolver.</summary>
public sealed class DnsForwardingHostResolver : IForwardingHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>An endpoint whose host is, or resolves to, an address audit data must not go to.</summary>
public sealed class ForwardingEndpointRefusedException(string host, string kind, string message) : Exception(message)
{
    public string Host { get; } = host;

    /// <summary>What the address is: <c>loopback</c>, <c>private</c>, <c>link-local</c>, …</summary>
    public string Kind { get; } = kind;
}

/// <summary>
/// Keeps forwarded audit data off internal networks: an endpoint whose host is, or resolves to, a
/// loopback, private (RFC 1918, 100.64/10), link-local (169.254.169.254 is the cloud metadata
/// service), unique-local IPv6, multicast, reserved or unspecified address is refused, IPv4-mapped
/// and IPv4-compatible IPv6 forms included. Checked when an owner saves an endpoint and again by
/// <see cref="ConnectAsync"/> for every connection, against the addresses actually connected to,
/// because DNS can answer differently later (rebinding). Off when
/// <see cref="ForwardingOptions.AllowHttpEndpoints"/> is on: local runs and tests send to 127.0.0.1.
/// </summary>
public sealed class ForwardingAddressGuard(IOptions<ForwardingOptions> options, IForwardingHostResolver resolver, ILogger<ForwardingAddressGuard> logger)
{
    /// <summary>Bound on one resolution, so a hung resolver cannot hold a settings request or a forward.</summary>
    public static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(10);

    public bool Enabled => !options.Value.AllowHttpEndpoints;

    /// <summary>
    /// The host's addresses when every one of them is public; throws
    /// <see cref="ForwardingEndpointRefusedException"/> when any is not (a name that also points
    /// inside is not trusted for its public half), and the resolver's own exception when the name
    /// does not resolve.
    /// </summary>
    public async Task<IPAddress[]> ResolvePublicAsync(string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        IPAddress[] addresses;
        if (IPAddress.TryParse(bare, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(ResolveTimeout);
            addresses = await resolver.ResolveAsync(bare, bound.Token);
        }
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        foreach (var address in addresses)
        {
            if (NonPublicKind(address) is { } kind)
            {
                logger.LogWarning("Forwarding endpoint host {Host} resolves to {Address}, a {Kind} address; refused", bare, address, kind);
                throw new ForwardingEndpointRefusedException(bare, kind,
                    $"The endpoint's host {bare} is or resolves to a {kind} address; audit data is forwarded only to public addresses.");
            }
        }
        return addresses;
    }

    /// <summary>
    /// The forwarder's <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host itself
    /// and connects only to addresses that passed the check, so the check and the connection see
    /// the same DNS answer.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var addresses = await ResolvePublicAsync(context.DnsEndPoint.Host, cancellationToken);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Null for a public unicast address; otherwise what kind of address it is.</summary>
    public static string? NonPublicKind(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            return NonPublicKind(address.MapToIPv4());
        }
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out var length);
        if (address.AddressFamily == AddressFamily.InterNetwork && length == 4)
        {
            return (b[0], b[1], b[2]) switch
            {
                (0, _, _) => "unspecified",
                (10, _, _) => "private",
                (100, >= 64 and < 128, _) => "shared (carrier-grade NAT)",
                (127, _, _) => "loopback",
                (169, 254, _) => "link-local",
                (172, >= 16 and < 32, _) => "private",
                (192, 0, 0) => "reserved",
                (192, 168, _) => "private",
                (198, 18 or 19, _) => "reserved",
                (>= 224 and < 240, _, _) => "multicast",
                (>= 240, _, _) => "reserved",
                _ => null,
            };
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || length != 16)
        {
            return "unsupported";
        }
        if (address.Equals(IPAddress.IPv6Any))
        {
            return "unspecified";
        }
        if (address.Equals(IPAddress.IPv6Loopback))
        {
            return "loopback";
        }
        if (address.IsIPv6LinkLocal)
        {
            return "link-local";
        }
        if (address.IsIPv6UniqueLocal)
        {
            return "unique-local";
        }
        if (address.IsIPv6SiteLocal)
        {
            return "site-local";
        }
        if (address.IsIPv6Multicast)
        {
            return "multicast";
        }
        // IPv4-compatible (::a.b.c.d, deprecated) and the NAT64 well-known prefix (64:ff9b::/96) carry an IPv4 address that is what is reached.
        var compatible = b[..12].IndexOfAnyExcept((byte)0) < 0;
        var nat64 = b[..12].SequenceEqual(new byte[] { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 });
        if (compatible || nat64)
        {
            return NonPublicKind(new IPAddress(b[12..16]));
        }
        return null;
    }
}
