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

/// <summary>
/// Where the app runs, as forwarding needs to know it. Development (standalone: <c>scripts/run</c>,
/// tests) lets an endpoint name any port, so a local receiver can listen on one it was given; under
/// the Functions host (the default when nothing says otherwise) only 443 is reached.
/// </summary>
public sealed record ForwardingEnvironment(bool Development)
{
    public static readonly ForwardingEnvironment Production = new(false);
}

/// <summary>An endpoint whose host is, or resolves to, an address audit data must not go to (or names a port it must not go to).</summary>
public sealed class ForwardingEndpointRefusedException(string host, string kind, string message) : Exception(message)
{
    public string Host { get; } = host;

    /// <summary>What the address is: <c>loopback</c>, <c>private</c>, <c>link-local</c>, …, or <c>port</c>.</summary>
    public string Kind { get; } = kind;
}

/// <summary>
/// Keeps forwarded audit data on the public internet: an endpoint whose host is, or resolves to, an
/// address that is not global unicast is refused (<see cref="NonPublicKind"/>: IANA's special-purpose
/// registries as data, Azure's platform address, and every form that embeds an IPv4 address), and
/// outside development only port 443 is reached. Checked when an owner saves an endpoint and again
/// by <see cref="ConnectAsync"/> for every connection, against the addresses actually connected to,
/// because DNS can answer differently later (rebinding). Off when
/// <see cref="ForwardingOptions.AllowHttpEndpoints"/> is on, which the app accepts only standalone:
/// local runs and tests send to 127.0.0.1.
/// </summary>
public sealed class ForwardingAddressGuard(
    IOptions<ForwardingOptions> options, IForwardingHostResolver resolver, ForwardingEnvironment environment, ILogger<ForwardingAddressGuard> logger)
{
    /// <summary>Bound on one resolution, so a hung resolver cannot hold a settings request or a forward.</summary>
    public static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The one port a forward reaches outside development: the tracking API's https.</summary>
    public const int HttpsPort = 443;

    public bool Enabled => !options.Value.AllowHttpEndpoints;

    /// <summary>
    /// Whether a connection may go to <paramref name="port"/>. Any port in development; otherwise 443
    /// only, so an endpoint cannot aim the key and the events at another service on a public host
    /// (an admin port, a mail or database listener that logs what it is sent).
    /// </summary>
    public bool PortAllowed(int port) => !Enabled || environment.Development || port == HttpsPort;

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
    /// The forwarder's <see cref="SocketsHttpHandler.ConnectCallback"/>: checks the port, resolves
    /// the host itself and connects only to addresses that passed the check, so the check and the
    /// connection see the same DNS answer. Holds for endpoints that never passed a settings check
    /// (the configured default, a row written before a rule existed).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (host, port) = (context.DnsEndPoint.Host, context.DnsEndPoint.Port);
        if (!PortAllowed(port))
        {
            logger.LogWarning("Forwarding endpoint {Host} names port {Port}; refused, only {HttpsPort} is reached", host, port, HttpsPort);
            throw new ForwardingEndpointRefusedException(host, "port",
                $"The endpoint {host} names port {port}; audit data is forwarded only to port {HttpsPort}.");
        }
        var addresses = await ResolvePublicAsync(host, cancellationToken);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Null for a global unicast address; otherwise what kind of address it is. An address that
    /// embeds an IPv4 one (IPv4-mapped, -compatible, NAT64, 6to4, Teredo) is named by the embedded
    /// address's kind when that is internal, and by its own form otherwise: it is refused either
    /// way, because what it reaches is decided by a translator or relay, not by the address.
    /// </summary>
    public static string? NonPublicKind(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var length))
        {
            return "unsupported";
        }
        var b = bytes[..length];
        if (address.AddressFamily == AddressFamily.InterNetwork && length == 4)
        {
            return SpecialAddresses.V4Kind(b);
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || length != 16)
        {
            return "unsupported";
        }
        return SpecialAddresses.V6Kind(b);
    }
}

/// <summary>
/// The blocks forwarding refuses, as data: the non-global entries of IANA's IPv4 and IPv6
/// Special-Purpose Address Registries (iana-ipv4-special-registry, iana-ipv6-special-registry; RFC
/// 6890 and the RFCs named), plus a few outside them that are not unicast or not the public
/// internet. First match wins, so an entry inside a larger one comes first when its kind differs.
/// </summary>
internal static class SpecialAddresses
{
    private static readonly Block[] V4 =
    [
        // IPv4 Special-Purpose Address Registry, "Globally Reachable" False or N/A.
        new("0.0.0.0/8", "unspecified"),                  // "This network" [RFC 791 §3.2]; 0.0.0.0/32 "this host" [RFC 1122 §3.2.1.3]
        new("10.0.0.0/8", "private"),                     // Private-Use [RFC 1918]
        new("100.64.0.0/10", "shared (carrier-grade NAT)"), // Shared Address Space [RFC 6598]
        new("127.0.0.0/8", "loopback"),                   // Loopback [RFC 1122 §3.2.1.3]
        new("169.254.0.0/16", "link-local"),              // Link Local [RFC 3927]; the cloud metadata service 169.254.169.254 is here
        new("172.16.0.0/12", "private"),                  // Private-Use [RFC 1918]
        // IETF Protocol Assignments [RFC 6890 §2.1]: Service Continuity 192.0.0.0/29 [RFC 7335], dummy 192.0.0.8 [RFC 7600],
        // NAT64/DNS64 discovery 192.0.0.170-171 [RFC 8880]. Its two globally reachable /32s, PCP anycast 192.0.0.9 [RFC 7723] and
        // TURN anycast 192.0.0.10 [RFC 8155], are refused too: anycast service addresses, never a tracking source.
        new("192.0.0.0/24", "reserved"),
        new("192.0.2.0/24", "documentation"),             // TEST-NET-1 [RFC 5737]
        new("192.88.99.0/24", "6to4 relay anycast"),      // Deprecated 6to4 Relay Anycast [RFC 7526]: leads into 6to4, refused below too
        new("192.168.0.0/16", "private"),                 // Private-Use [RFC 1918]
        new("198.18.0.0/15", "benchmarking"),             // Benchmarking [RFC 2544]
        new("198.51.100.0/24", "documentation"),          // TEST-NET-2 [RFC 5737]
        new("203.0.113.0/24", "documentation"),           // TEST-NET-3 [RFC 5737]
        new("240.0.0.0/4", "reserved"),                   // Reserved [RFC 1112 §4]; holds Limited Broadcast 255.255.255.255/32 [RFC 8190][RFC 919 §7]
        // The registry's globally reachable entries are left public: AS112-v4 192.31.196.0/24 [RFC 7535],
        // AMT 192.52.193.0/24 [RFC 7450], AS112 direct delegation 192.175.48.0/24 [RFC 7534].

        // Not in the registry, and not unicast.
        new("224.0.0.0/4", "multicast"),                  // [RFC 5771]
        // Not IANA's: Azure's platform address (the host's DNS, DHCP, health probes and WireServer), a public
        // address that every Azure VM and App Service worker reaches as a platform service, never a tracking source.
        new("168.63.129.16/32", "Azure platform"),
    ];

    private static readonly Block[] V6 =
    [
        // IPv6 Special-Purpose Address Registry, non-global entries (and the translation forms, refused whatever the registry says).
        new("::/128", "unspecified"),                     // Unspecified [RFC 4291]
        new("::1/128", "loopback"),                       // Loopback [RFC 4291]
        new("::ffff:0:0/96", "IPv4-mapped", Last4),       // IPv4-mapped [RFC 4291]
        // IPv4-IPv6 Translation [RFC 6052]: "globally reachable" in the registry, but what it reaches is the embedded IPv4 address, via a translator.
        new("64:ff9b::/96", "NAT64", Last4),
        new("64:ff9b:1::/48", "NAT64 (local-use)"),       // Local-Use IPv4/IPv6 Translation [RFC 8215]
        new("100::/64", "discard-only"),                  // Discard-Only Address Block [RFC 6666]
        new("100:0:0:1::/64", "reserved"),                // Dummy IPv6 Prefix [RFC 9780]
        new("2001::/32", "Teredo", Teredo),               // TEREDO [RFC 4380][RFC 8190]: tunnels to an IPv4 client behind a NAT
        // IETF Protocol Assignments [RFC 2928]: Benchmarking 2001:2::/48 [RFC 5180], deprecated ORCHID 2001:10::/28 [RFC 4843].
        // Its globally reachable entries (PCP, TURN and DNS-SD SRP anycast 2001:1::1-3, AMT 2001:3::/32, AS112-v6 2001:4:112::/48,
        // ORCHIDv2 2001:20::/28, drone DETs 2001:30::/28) are refused too: anycast services and identifiers, never a tracking source.
        new("2001::/23", "reserved"),
        new("2001:db8::/32", "documentation"),            // Documentation [RFC 3849]
        new("2002::/16", "6to4", SixToFour),              // 6to4 [RFC 3056]: 2002:0a00:0001:: is 10.0.0.1 behind a relay
        new("3fff::/20", "documentation"),                // Documentation [RFC 9637]
        new("5f00::/16", "reserved"),                     // Segment Routing (SRv6) SIDs [RFC 9602]
        new("fc00::/7", "unique-local"),                  // Unique-Local [RFC 4193][RFC 8190]
        new("fe80::/10", "link-local"),                   // Link-Local Unicast [RFC 4291]
        // The registry's globally reachable AS112 direct delegation 2620:4f:8000::/48 [RFC 7534] is left public.

        // Not in the registry; all outside global unicast 2000::/3, named for the message.
        new("::/96", "IPv4-compatible", Last4),           // IPv4-Compatible, deprecated [RFC 4291 §2.5.5.1]
        new("fec0::/10", "site-local"),                   // Site-Local, deprecated [RFC 3879]
        new("ff00::/8", "multicast"),                     // Multicast [RFC 4291 §2.7]
    ];

    /// <summary>Global unicast [RFC 4291 §2.4, IANA IPv6 Address Space]: everything else in IPv6 is not assigned for it.</summary>
    private static readonly Block GlobalUnicast = new("2000::/3", "global unicast");

    public static string? V4Kind(ReadOnlySpan<byte> address)
    {
        foreach (var block in V4)
        {
            if (block.Contains(address))
            {
                return block.Kind;
            }
        }
        return null;
    }

    public static string? V6Kind(ReadOnlySpan<byte> address)
    {
        foreach (var block in V6)
        {
            if (block.Contains(address))
            {
                if (block.Embedded is { } embedded)
                {
                    foreach (var v4 in embedded(address.ToArray()))
                    {
                        if (V4Kind(v4) is { } inner)
                        {
                            return inner;
                        }
                    }
                }
                return block.Kind;
            }
        }
        return GlobalUnicast.Contains(address) ? null : "not global unicast";
    }

    private static IEnumerable<byte[]> Last4(byte[] a) => [a[12..16]];

    /// <summary>6to4: the site's IPv4 address is bits 16-47.</summary>
    private static IEnumerable<byte[]> SixToFour(byte[] a) => [a[2..6]];

    /// <summary>Teredo: the server's IPv4 address is bits 32-63, the client's the last 32 bits, inverted.</summary>
    private static IEnumerable<byte[]> Teredo(byte[] a) => [a[12..16].Select(x => (byte)~x).ToArray(), a[4..8]];

    private sealed class Block
    {
        private readonly byte[] _prefix;
        private readonly int _bits;

        public Block(string cidr, string kind, Func<byte[], IEnumerable<byte[]>>? embedded = null)
        {
            var slash = cidr.IndexOf('/', StringComparison.Ordinal);
            _prefix = IPAddress.Parse(cidr[..slash]).GetAddressBytes();
            _bits = int.Parse(cidr[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            Kind = kind;
            Embedded = embedded;
        }

        public string Kind { get; }

        /// <summary>The IPv4 addresses an address of this block carries, checked in their own right.</summary>
        public Func<byte[], IEnumerable<byte[]>>? Embedded { get; }

        public bool Contains(ReadOnlySpan<byte> address)
        {
            if (address.Length != _prefix.Length)
            {
                return false;
            }
            var whole = _bits / 8;
            if (!address[..whole].SequenceEqual(_prefix.AsSpan(0, whole)))
            {
                return false;
            }
            var rest = _bits % 8;
            if (rest == 0)
            {
                return true;
            }
            var mask = (byte)(0xFF << (8 - rest));
            return (address[whole] & mask) == (_prefix[whole] & mask);
        }
    }
}
