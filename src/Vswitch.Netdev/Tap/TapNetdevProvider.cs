using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev.Tap;

/// <summary>
/// The <c>tap</c> provider: a Linux TAP interface read and written through /dev/net/tun, as DPDK's TAP PMD
/// (seed 001) and OVS's netdev-tap. Creates the interface (or attaches to an existing tap of that name),
/// one non-blocking fd per queue pair (IFF_MULTI_QUEUE when <c>queues</c> &gt; 1). Requires CAP_NET_ADMIN.
/// </summary>
/// <remarks>Stateless and thread-safe: <see cref="Open"/> may be called from any thread. Registered with
/// <see cref="TapNetdevRegistryExtensions.AddTapProvider"/>. See docs/ports/tap.md.</remarks>
public sealed class TapNetdevProvider : INetdevProvider
{
    /// <summary>The type name.</summary>
    public const string TypeName = "tap";

    /// <summary>Name pattern used when <c>iface</c> is absent; the kernel replaces %d with the first free number.</summary>
    public const string DefaultNamePattern = "vswtap%d";

    /// <summary>Most queue pairs a device may open.</summary>
    public const int MaxQueues = 16;

    /// <inheritdoc/>
    public string Type => TypeName;

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases { get; } = [];

    /// <inheritdoc/>
    public IReadOnlyList<NetdevOptionDescriptor> Options { get; } =
    [
        new("iface", $"kernel interface name (1..15 bytes; may contain %d); default {DefaultNamePattern}. An existing tap of that name is attached to."),
        new("queues", $"queue pairs, one fd each (IFF_MULTI_QUEUE when > 1): 1..{MaxQueues}, default 1"),
        new("persist", "keep the kernel interface after the device closes (TUNSETPERSIST): true/false, default false"),
        new("mac", "Ethernet address xx:xx:xx:xx:xx:xx (unicast); default: random locally administered for a new interface"),
        new("remote", "copy the Ethernet address of this existing interface (ignored when mac is given)"),
        new("mtu", $"MTU to set at open: 68..{TapNetdev.MaxMtuValue}; default: the kernel's (1500)"),
        new("speed", "link speed in Mbit/s reported by GetInfo: 1..400000, default 10000"),
        new("local_ip", "IPv4 address A.B.C.D given to the kernel interface; applied (and the interface brought up) once local_netmask is valid too"),
        new("local_netmask", "prefix length 0..32 or dotted mask for local_ip"),
    ];

    /// <inheritdoc/>
    public Errno Open(NetdevOpenRequest request, out Netdev? device, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        device = null;
        var options = request.Options;
        var config = new TapConfig();
        string name = options.Get("iface") ?? DefaultNamePattern;
        if (!NetDevice.IsValidName(name.Replace("%d", "0", StringComparison.Ordinal)))
        {
            error = $"tap: iface={name}: not a valid interface name (1..15 bytes, no '/', ':' or spaces)";
            return Errno.EINVAL;
        }
        if (!options.TryGetInt("queues", 1, 1, MaxQueues, out config.Queues, out error)
            || !options.TryGetBool("persist", false, out config.Persist, out error)
            || !options.TryGetInt("mtu", 0, 68, TapNetdev.MaxMtuValue, out config.Mtu, out error)
            || !options.TryGetInt("speed", 10_000, 1, 400_000, out config.SpeedMbps, out error))
        {
            error = "tap: " + error;
            return Errno.EINVAL;
        }
        if (options.Get("mac") is { } macText)
        {
            if (!MacAddress.TryParse(macText, out var mac) || mac.IsMulticast || mac.IsZero)
            {
                error = $"tap: mac={macText}: expected a unicast address xx:xx:xx:xx:xx:xx";
                return Errno.EINVAL;
            }
            config.Mac = mac;
        }
        else if (options.Get("remote") is { } remote)
        {
            Span<byte> b = stackalloc byte[6];
            var re = NetDevice.GetHardwareAddress(remote, b);
            if (re.IsError)
            {
                error = $"tap: remote={remote}: cannot read its address: {re}";
                return re == Errno.EINVAL ? Errno.ENODEV : re;
            }
            config.Mac = new MacAddress(b);
        }
        if (!TryParseLocalAddress(options, out config.LocalIp, out config.LocalPrefix, out error)) return Errno.EINVAL;

        var rc = TapNetdev.Create(request.Name, name, config, options, request.Pool, out var tap, out error);
        device = tap;
        return rc;
    }

    /// <summary>
    /// Parses <c>local_ip</c> and <c>local_netmask</c> (either may be absent). False with an error naming the bad value.
    /// </summary>
    internal static bool TryParseLocalAddress(NetdevOptions options, out IPAddress? ip, out int prefix, out string? error)
    {
        ip = null;
        prefix = -1;
        error = null;
        if (options.Get("local_ip") is { } ipText)
        {
            if (!IPAddress.TryParse(ipText, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetwork
                || ipText.Count(c => c == '.') != 3)
            {
                error = $"tap: local_ip={ipText}: expected an IPv4 address A.B.C.D";
                return false;
            }
            ip = parsed;
        }
        if (options.Get("local_netmask") is { } maskText)
        {
            if (int.TryParse(maskText, NumberStyles.None, CultureInfo.InvariantCulture, out int bits) && bits is >= 0 and <= 32)
            {
                prefix = bits;
            }
            else if (IPAddress.TryParse(maskText, out var mask) && mask.AddressFamily == AddressFamily.InterNetwork
                     && IsContiguousMask(mask, out bits))
            {
                prefix = bits;
            }
            else
            {
                error = $"tap: local_netmask={maskText}: expected a prefix length 0..32 or a contiguous mask like 255.255.255.0";
                return false;
            }
        }
        return true;
    }

    private static bool IsContiguousMask(IPAddress mask, out int bits)
    {
        Span<byte> b = stackalloc byte[4];
        mask.TryWriteBytes(b, out _);
        uint m = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b);
        bits = System.Numerics.BitOperations.PopCount(m);
        return m == (bits == 0 ? 0 : uint.MaxValue << (32 - bits));
    }
}

/// <summary>Validated open-time settings of a tap device.</summary>
internal sealed class TapConfig
{
    public int Queues = 1;
    public bool Persist;
    public int Mtu;
    public int SpeedMbps = 10_000;
    public MacAddress? Mac;
    public IPAddress? LocalIp;
    public int LocalPrefix = -1;
}
