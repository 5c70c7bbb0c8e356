using System.Net;
using System.Net.Sockets;

namespace AuditTrail.Core.Events;

/// <summary>
/// Which texts <c>context.ip</c> accepts. <see cref="IPAddress.TryParse(string, out IPAddress)"/>
/// takes the legacy inet_aton forms too (<c>1</c>, <c>127.1</c>, <c>0x7f.1</c>, octal
/// <c>01.02.03.004</c>, <c>4294967295</c>), which name another address than they seem to and would be
/// stored as sent; a trail compared or searched by address needs one spelling per IPv4 address.
/// </summary>
public static class IpAddressText
{
    /// <summary>
    /// True for canonical dotted-quad IPv4 (four decimal parts 0-255, no leading zeros, no sign or
    /// space) and for IPv6 text (RFC 4291: hex groups, <c>::</c>, an embedded dotted quad held to
    /// the same IPv4 rule); no zone (<c>%eth0</c>), brackets or port.
    /// </summary>
    public static bool IsValid(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan();
        if (span.IndexOf(':') < 0)
        {
            return IsDottedQuad(span);
        }
        foreach (var c in span)
        {
            if (!(char.IsAsciiHexDigit(c) || c is ':' or '.'))
            {
                return false;
            }
        }
        var lastColon = span.LastIndexOf(':');
        if (span[lastColon..].Contains('.') && !IsDottedQuad(span[(lastColon + 1)..]))
        {
            return false;
        }
        return IPAddress.TryParse(span, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6;
    }

    private static bool IsDottedQuad(ReadOnlySpan<char> text)
    {
        var parts = 0;
        foreach (var range in text.Split('.'))
        {
            var part = text[range];
            if (++parts > 4 || part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0'))
            {
                return false;
            }
            var value = 0;
            foreach (var c in part)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return false;
                }
                value = value * 10 + (c - '0');
            }
            if (value > 255)
            {
                return false;
            }
        }
        return parts == 4;
    }
}
