using Vswitch.Interop.Linux;

namespace Vswitch.Netdev.Tests.SystemTests;

/// <summary>Why system tests cannot run here, or null when they can (root, iproute2, /dev/net/tun).</summary>
internal static class SystemTestRequirements
{
    public static readonly string? SkipReason = Compute();

    private static string? Compute()
    {
        if (!OperatingSystem.IsLinux()) return "system tests need Linux";
        if (Environment.UserName != "root" && GetEuid() != 0) return "system tests need root (CAP_NET_ADMIN)";
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip")) return "system tests need iproute2 (ip)";
        if (!File.Exists(TapFd.CloneDevicePath)) return "system tests need /dev/net/tun";
        return null;
    }

    private static uint GetEuid()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                    return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return uint.MaxValue;
    }
}

/// <summary>A fact that needs root and iproute2; skipped (with the reason) elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (SystemTestRequirements.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs root and iproute2; skipped (with the reason) elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (SystemTestRequirements.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>
/// A root fact that also needs 802.1Q VLAN interfaces (the 8021q module); probed once by creating one in a
/// scratch namespace. Skipped with the reason where the kernel has no VLAN support.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootVlanFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> _vlanSkip = new(ProbeVlan);

    public RootVlanFactAttribute()
    {
        if (SystemTestRequirements.SkipReason is { } reason) Skip = reason;
        else if (_vlanSkip.Value is { } vlan) Skip = vlan;
    }

    private static string? ProbeVlan()
    {
        string ns = TestObjects.NewNamespace('q');
        try
        {
            if (Ip.Exec("ip", $"netns add {ns}").Code != 0) return "cannot create a namespace to probe VLAN support";
            // On a veth, not lo: loopback is NETIF_F_VLAN_CHALLENGED on most kernels, so a probe on lo fails even with 8021q.
            if (Ip.Exec("ip", $"-n {ns} link add vswprobe0 type veth peer name vswprobe1").Code != 0) return "cannot create a veth pair to probe VLAN support";
            var (code, _, err) = Ip.Exec("ip", $"-n {ns} link add link vswprobe0 name vlanprobe type vlan id 5");
            return code == 0 ? null : $"the kernel has no 802.1Q VLAN interfaces (8021q): {err.Trim()}";
        }
        finally
        {
            Ip.TryRun($"netns del {ns}");
        }
    }
}
