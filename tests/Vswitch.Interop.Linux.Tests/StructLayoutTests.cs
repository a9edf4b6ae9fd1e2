using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Vswitch.Interop.Linux.Tests;

/// <summary>
/// Compiles a C program against the real kernel/libc headers (gcc, libc6-dev) that prints sizeof,
/// offsetof and constant values, and compares them with our C# declarations (Tmds.LibC style). A guard
/// (<see cref="EveryKernelStructConstantAndErrnoIsChecked"/>) fails when Vswitch.Interop.Linux declares a
/// kernel struct, constant or errno that these comparisons do not cover.
/// </summary>
public sealed partial class StructLayoutTests
{
    private static readonly Assembly Interop = typeof(Errno).Assembly;

    /// <summary>Every kernel struct (C name) of the assembly, compared field by field with the headers.</summary>
    private static readonly Type[] Structs =
    [
        typeof(LibC.ifreq), typeof(LibC.sockaddr_ll), typeof(LibC.packet_mreq), typeof(LibC.tpacket_auxdata),
        typeof(LibC.tpacket_stats), typeof(LibC.iovec), typeof(LibC.msghdr), typeof(LibC.mmsghdr), typeof(LibC.cmsghdr),
        typeof(LibC.sockaddr_nl), typeof(LibC.nlmsghdr), typeof(LibC.nlmsgerr), typeof(LibC.ifinfomsg),
        typeof(LibC.ifaddrmsg), typeof(LibC.rtattr), typeof(LibC.epoll_event),
        typeof(LibC.tpacket_req3), typeof(LibC.tpacket_hdr_v1), typeof(LibC.tpacket_block_desc), typeof(LibC.tpacket3_hdr),
        typeof(LibC.ucred),
    ];

    /// <summary>
    /// Kernel structs deliberately not compared with the headers (as Tmds.LibC's <c>UncheckedStructs</c>), each with
    /// the reason. Empty: every struct is checked. A struct that cannot be checked by the generic program (e.g. a
    /// bitfield) goes here with a reason and gets a hand-written test.
    /// </summary>
    private static readonly Dictionary<string, string> UncheckedStructs = new(StringComparer.Ordinal);

    /// <summary>C-named constants declared outside <c>LibC</c> (where <see cref="ConstantsMatchTheCHeaders"/> finds them), with the reason. Empty.</summary>
    private static readonly Dictionary<string, string> UncheckedConstants = new(StringComparer.Ordinal);

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex CStructName();

    [GeneratedRegex("^[A-Z][A-Z0-9_]*$")]
    private static partial Regex CConstantName();

    private static IEnumerable<Type> AllTypes() => Interop.GetTypes().Where(t => !t.Name.StartsWith('<'));

    // Fields whose C name is a union member path.
    private static readonly Dictionary<string, string> CFieldNames = new()
    {
        ["ifreq.ifr_hwaddr_sa_family"] = "ifr_hwaddr.sa_family",
        ["ifreq.ifr_hwaddr_sa_data"] = "ifr_hwaddr.sa_data",
        ["tpacket_hdr_v1.ts_first_pkt_sec"] = "ts_first_pkt.ts_sec",
        ["tpacket_hdr_v1.ts_first_pkt_nsec"] = "ts_first_pkt.ts_nsec",
        ["tpacket_hdr_v1.ts_last_pkt_sec"] = "ts_last_pkt.ts_sec",
        ["tpacket_hdr_v1.ts_last_pkt_nsec"] = "ts_last_pkt.ts_nsec",
        ["tpacket_block_desc.hdr"] = "hdr.bh1",
        ["tpacket3_hdr.tp_rxhash"] = "hv1.tp_rxhash",
        ["tpacket3_hdr.tp_vlan_tci"] = "hv1.tp_vlan_tci",
        ["tpacket3_hdr.tp_vlan_tpid"] = "hv1.tp_vlan_tpid",
        ["tpacket3_hdr.tp_hv1_padding"] = "hv1.tp_padding",
    };

    private static Dictionary<string, long> RunCProgram(string source)
    {
        string dir = TestObjects.NewTempPath('g');
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "layout.c"), source);
            Run("gcc", $"-Wall -o {dir}/layout {dir}/layout.c", out _);
            Run(Path.Combine(dir, "layout"), "", out string output);
            var values = new Dictionary<string, long>();
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                values[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            return values;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void Run(string file, string args, out string stdout)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{file} timed out");
        stdout = outTask.Result;
        Assert.True(p.ExitCode == 0, $"{file} {args} failed ({p.ExitCode}): {errTask.Result}");
    }

    private const string Headers = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <errno.h>
        #include <fcntl.h>
        #include <sys/socket.h>
        #include <sys/uio.h>
        #include <sys/ioctl.h>
        #include <sys/epoll.h>
        #include <sys/eventfd.h>
        #include <sys/mman.h>
        #include <linux/if.h>
        #include <linux/if_tun.h>
        #include <linux/if_packet.h>
        #include <linux/if_ether.h>
        #include <linux/if_arp.h>
        #include <linux/sockios.h>
        #include <linux/netlink.h>
        #include <linux/rtnetlink.h>
        #include <linux/if_link.h>
        #include <linux/if_addr.h>
        #include <linux/if_xdp.h>
        #include <linux/virtio_net.h>
        #include <linux/bpf.h>
        #include <linux/pkt_sched.h>
        #include <linux/pkt_cls.h>
        #include <linux/membarrier.h>
        #include <linux/ethtool.h>

        """;

    [Fact]
    public void StructSizesAndOffsetsMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (var t in Structs)
        {
            string cType = "struct " + t.Name;
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"sizeof.{t.Name} %zu\\n\", sizeof({cType}));");
            expected[$"sizeof.{t.Name}"] = Marshal.SizeOf(t);
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                string cField = CFieldNames.GetValueOrDefault($"{t.Name}.{f.Name}", f.Name);
                c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"offsetof.{t.Name}.{f.Name} %zu\\n\", offsetof({cType}, {cField}));");
                expected[$"offsetof.{t.Name}.{f.Name}"] = Marshal.OffsetOf(t, f.Name).ToInt64();
            }
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                var fixedAttr = f.GetCustomAttribute<System.Runtime.CompilerServices.FixedBufferAttribute>();
                if (fixedAttr is null) continue;
                string cField = CFieldNames.GetValueOrDefault($"{t.Name}.{f.Name}", f.Name);
                c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"membersize.{t.Name}.{f.Name} %zu\\n\", sizeof((({cType}*)0)->{cField}));");
                expected[$"membersize.{t.Name}.{f.Name}"] = fixedAttr.Length * Marshal.SizeOf(fixedAttr.ElementType);
            }
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        var mismatches = expected.Where(kv => !actual.TryGetValue(kv.Key, out long v) || v != kv.Value)
            .Select(kv => $"{kv.Key}: C# {kv.Value}, C {(actual.TryGetValue(kv.Key, out long v) ? v : "missing")}").ToList();
        Assert.True(expected.Count > 60, "expected many layout facts to be checked");
        Assert.Empty(mismatches);
    }

    [Fact]
    public void ConstantsMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (var f in typeof(LibC).GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
        {
            if (!f.IsLiteral || !CConstantName().IsMatch(f.Name)) continue;
            long value = Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture);
            // Compare as unsigned 64-bit in C so that ioctl numbers and negative shorts compare alike.
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"{f.Name} %lld\\n\", (long long)({f.Name}));");
            expected[f.Name] = value;
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        var mismatches = expected.Where(kv => !actual.TryGetValue(kv.Key, out long v) || v != kv.Value)
            .Select(kv => $"{kv.Key}: C# {kv.Value}, C {(actual.TryGetValue(kv.Key, out long v) ? v : "missing")}").ToList();
        Assert.True(expected.Count > 80, $"expected many constants, found {expected.Count}");
        Assert.Empty(mismatches);
    }

    [Fact]
    public void CmsgMacrosMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (int n in new[] { 0, 1, 4, 20, 33 })
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"CMSG_SPACE.{n} %zu\\n\", (size_t)CMSG_SPACE({n}));");
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"CMSG_LEN.{n} %zu\\n\", (size_t)CMSG_LEN({n}));");
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"NLMSG_ALIGN.{n} %zu\\n\", (size_t)NLMSG_ALIGN({n}));");
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"RTA_ALIGN.{n} %zu\\n\", (size_t)RTA_ALIGN({n}));");
            expected[$"CMSG_SPACE.{n}"] = LibC.CMSG_SPACE(n);
            expected[$"CMSG_LEN.{n}"] = LibC.CMSG_LEN(n);
            expected[$"NLMSG_ALIGN.{n}"] = LibC.NLMSG_ALIGN(n);
            expected[$"RTA_ALIGN.{n}"] = LibC.RTA_ALIGN(n);
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        foreach (var (k, v) in expected) Assert.True(actual[k] == v, $"{k}: C# {v}, C {actual[k]}");
    }

    private static IEnumerable<FieldInfo> ErrnoFields() =>
        typeof(Errno).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(Errno) && f.Name != nameof(Errno.Success));

    [Fact]
    public void ErrnoValuesMatchTheCHeaders()
    {
        var c = new StringBuilder(Headers).AppendLine("int main(void) {");
        var expected = new Dictionary<string, long>();
        foreach (var f in ErrnoFields())
        {
            var value = (Errno)f.GetValue(null)!;
            Assert.Equal(f.Name, value.Name); // the symbolic name printed in messages is the field's
            c.AppendLine(CultureInfo.InvariantCulture, $"printf(\"{f.Name} %d\\n\", {f.Name});");
            expected[f.Name] = value.Value;
        }
        c.AppendLine("return 0; }");
        var actual = RunCProgram(c.ToString());
        var mismatches = expected.Where(kv => !actual.TryGetValue(kv.Key, out long v) || v != kv.Value)
            .Select(kv => $"{kv.Key}: C# {kv.Value}, C {(actual.TryGetValue(kv.Key, out long v) ? v : "missing")}").ToList();
        Assert.True(expected.Count > 20, $"expected many errno values, found {expected.Count}");
        Assert.Empty(mismatches);
    }

    /// <summary>
    /// The guard: every kernel struct (a value type with a C name), every C-named constant and every errno value
    /// declared anywhere in Vswitch.Interop.Linux, public or internal, is covered by the comparisons above.
    /// Adding one without adding it to <see cref="Structs"/> (or declaring a constant outside LibC) fails here.
    /// </summary>
    [Fact]
    public void EveryKernelStructConstantAndErrnoIsChecked()
    {
        var checkedStructs = Structs.ToHashSet();
        var uncheckedStructs = AllTypes()
            .Where(t => t.IsValueType && !t.IsEnum && CStructName().IsMatch(t.Name))
            .Where(t => !checkedStructs.Contains(t) && !UncheckedStructs.ContainsKey(t.Name))
            .Select(t => t.FullName!)
            .ToList();

        var uncheckedConstants = AllTypes()
            .Where(t => t != typeof(LibC))
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(f => f.IsLiteral && CConstantName().IsMatch(f.Name) && !UncheckedConstants.ContainsKey(f.Name))
            .Select(f => $"{f.DeclaringType!.Name}.{f.Name}")
            .ToList();

        var strayErrnos = AllTypes()
            .Where(t => t != typeof(Errno))
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(f => f.FieldType == typeof(Errno) && f.IsInitOnly && CConstantName().IsMatch(f.Name))
            .Select(f => $"{f.DeclaringType!.Name}.{f.Name}")
            .ToList();
        var problems = new List<string>();
        if (uncheckedStructs.Count > 0)
            problems.Add($"kernel structs not compared with the C headers (add them to StructLayoutTests.Structs): {string.Join(", ", uncheckedStructs)}");
        if (uncheckedConstants.Count > 0)
            problems.Add($"kernel constants outside LibC escape ConstantsMatchTheCHeaders (declare them in LibC): {string.Join(", ", uncheckedConstants)}");
        if (strayErrnos.Count > 0)
            problems.Add($"errno values outside Errno escape ErrnoValuesMatchTheCHeaders: {string.Join(", ", strayErrnos)}");
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // The checks themselves see everything: the structs of the list are the assembly's, the constants test
        // reads LibC's public and internal literals, and there are errno values to compare.
        Assert.All(Structs, t => Assert.Same(Interop, t.Assembly));
        Assert.Contains(typeof(LibC).GetFields(BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static), f => f.Name == "SO_PEERCRED");
        Assert.NotEmpty(ErrnoFields());
    }
}
