using BenchmarkDotNet.Attributes;
using Vswitch.Datapath.Odp;
using Vswitch.Interop.Linux;
using Vswitch.Packets;
using Vswitch.Switch.Diagnostics;

namespace Vswitch.Benchmarks;

/// <summary>
/// A log call on a packet-triggered path when nothing will be written, in the shapes Bridge uses: the revalidator's
/// debug line with the flow formatted (debug is off by default), and the upcall handler's rate-limited warning during
/// a flood (the limit is used up). <c>FieldsBuilt</c> is the former call shape (fields, the formatted flow and the
/// boxed values are built before the call); <c>Guarded</c> tests <see cref="VLogModule.IsEnabled(VLogLevel)"/> /
/// <see cref="VLogModule.IsEnabled(VLogLevel, VLogRateLimit)"/> first, as the call sites do now.
/// Run: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*LogBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class LogBenchmarks
{
    private static readonly VLogModule s_log = VLog.Module("benchlog");
    private readonly VLogRateLimit _usedUp = new(perMinute: 0, burst: 0);
    private readonly string _bridge = "br0";
    private readonly string _reason = "idle";
    private FlowKey _key;
    private FlowKey _mask;

    [GlobalSetup]
    public void Setup()
    {
        s_log.Level = VLogLevel.Info;
        _key.InPort = 1;
        _key.EthType = 0x0800;
        _key.Ipv4Src = 0x0A000001;
        _key.Ipv4Dst = 0x0A000002;
        _key.NwProto = 6;
        _key.TpDst = 80;
        _mask.InPort = uint.MaxValue;
        _mask.EthType = 0xFFFF;
        _mask.Ipv4Dst = uint.MaxValue;
        _mask.NwProto = 0xFF;
    }

    /// <summary>The revalidator's "flow deleted" debug line with debug off, fields built first (before).</summary>
    [Benchmark(Baseline = true)]
    public void DebugOff_FieldsBuilt() =>
        s_log.Dbg("flow deleted", ("bridge", _bridge), ("reason", _reason), ("flow", OdpFlowFormatter.Format(_key, _mask)));

    /// <summary>The same line guarded by IsEnabled (after).</summary>
    [Benchmark]
    public void DebugOff_Guarded()
    {
        if (s_log.IsEnabled(VLogLevel.Dbg))
            s_log.Dbg("flow deleted", ("bridge", _bridge), ("reason", _reason), ("flow", OdpFlowFormatter.Format(_key, _mask)));
    }

    /// <summary>The upcall handler's "flow put failed" warning while its rate limit is used up, fields built first (before).</summary>
    [Benchmark]
    public void WarnSuppressed_FieldsBuilt() =>
        s_log.LogLimited(_usedUp, VLogLevel.Warn, "flow put failed", ("bridge", _bridge), ("error", Errno.ENOSPC), ("flow", OdpFlowFormatter.Format(_key, _mask)));

    /// <summary>The same warning guarded by IsEnabled(level, limit) (after).</summary>
    [Benchmark]
    public void WarnSuppressed_Guarded()
    {
        if (s_log.IsEnabled(VLogLevel.Warn, _usedUp))
            s_log.Log(VLogLevel.Warn, "flow put failed", ("bridge", _bridge), ("error", Errno.ENOSPC), ("flow", OdpFlowFormatter.Format(_key, _mask)));
    }
}
