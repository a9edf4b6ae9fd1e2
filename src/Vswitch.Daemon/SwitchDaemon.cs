using System.Globalization;
using System.Reflection;
using Vswitch.Daemon.Config;
using Vswitch.Switch;
using Vswitch.Switch.Commands;
using Vswitch.Switch.Diagnostics;
using Vswitch.Switch.Normal;

namespace Vswitch.Daemon;

/// <summary>Creates the datapath of a new bridge (the seam to a datapath provider), e.g. <see cref="DatapathRuntime.CreateBridgeDatapath"/>.</summary>
/// <param name="datapathType">The datapath type, e.g. <c>netdev</c> (the userspace datapath).</param>
/// <param name="bridgeName">The bridge (and datapath) name.</param>
public delegate IBridgeDatapath DatapathFactory(string datapathType, string bridgeName);

/// <summary>How a <see cref="SwitchDaemon"/> starts.</summary>
public sealed class SwitchDaemonOptions
{
    /// <summary>Where the state is persisted (default /var/lib/vswitch); null = not persisted (in-process use, tests, demo).</summary>
    public string? StateDirectory { get; init; } = StateStore.DefaultDirectory;

    /// <summary>A configuration file (YAML or JSON) to apply, or null.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>Creates each bridge's datapath; by default an <see cref="OfflineDatapath"/>.</summary>
    public DatapathFactory? DatapathFactory { get; init; }

    /// <summary>Clock for MAC aging and flow expiry.</summary>
    public TimeProvider? Time { get; init; }

    /// <summary>Start each bridge's handler and revalidator threads (true for a running switch).</summary>
    public bool StartThreads { get; init; } = true;
}

/// <summary>
/// The switch as a long-running service: the configuration (from the saved state or a config file), its bridges, the
/// command registry (ctl, appctl and dpctl commands) and persistence after every successful change. A bad command changes
/// nothing: every change is validated, then applied to the running bridges (which refuse atomically), then saved; if saving
/// fails the change is undone.
/// </summary>
public sealed class SwitchDaemon : IBridgeSet, IDisposable
{
    private static readonly VLogModule s_log = VLog.Module("daemon");

    private readonly SwitchDaemonOptions _options;
    private readonly StateStore? _state;
    private readonly DatapathFactory _datapathFactory;
    private readonly SortedDictionary<string, Bridge> _bridges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _portErrors = new(StringComparer.Ordinal);
    private readonly ManualResetEventSlim _exitRequested = new(false);
    private SwitchConfig _config = SwitchConfig.Empty;
    private string? _configDigest;

    /// <summary>Creates the daemon, registers its commands and builds the bridges from the saved state or config file.
    /// Throws <see cref="ConfigException"/> for an invalid config file or state (nothing is started then).</summary>
    public SwitchDaemon(SwitchDaemonOptions options)
    {
        _options = options;
        _state = options.StateDirectory is null ? null : new StateStore(options.StateDirectory);
        _datapathFactory = options.DatapathFactory ?? ((_, name) => new OfflineDatapath(name, options.Time));
        Commands = new CommandRegistry();
        SwitchCommands.Register(Commands, this);
        RegisterCommands();
        VLog.Module("bridge");
        VLog.Module("control");
        Initialise();
    }

    /// <summary>The command registry (served by the control socket; callable in-process).</summary>
    public CommandRegistry Commands { get; }

    /// <summary>The current configuration.</summary>
    public SwitchConfig Config => _config;

    /// <summary>Set when the <c>exit</c> command was run.</summary>
    public WaitHandle ExitRequested => _exitRequested.WaitHandle;

    /// <inheritdoc/>
    public IReadOnlyList<Bridge> Bridges => _bridges.Values.ToArray();

    /// <summary>The version string.</summary>
    public static string Version =>
        typeof(SwitchDaemon).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(SwitchDaemon).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>Runs a command in-process (same code path as the control socket).</summary>
    public CommandResult Execute(string command, params string[] args) => Commands.Execute(command, args);

    private void Initialise()
    {
        (SwitchConfig Config, string? Digest)? saved = _state?.Load();
        string? configText = null;
        if (_options.ConfigFile is { } file)
        {
            try
            {
                configText = File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ConfigException(file, 0, 0, "", $"cannot read: {ex.Message}");
            }
        }
        SwitchConfig config;
        if (configText is not null && (saved is null || saved.Value.Digest != ConfigLoader.Digest(configText)))
        {
            config = ConfigLoader.Load(_options.ConfigFile!, configText);
            _configDigest = ConfigLoader.Digest(configText);
            s_log.Info(saved is null ? "configuration loaded" : "configuration file changed since the saved state: applying it",
                ("file", _options.ConfigFile), ("bridges", config.Bridges.Count));
        }
        else if (saved is { } s)
        {
            config = s.Config;
            _configDigest = s.Digest;
            s_log.Info("saved state restored", ("file", _state!.FilePath), ("bridges", config.Bridges.Count));
        }
        else
        {
            config = SwitchConfig.Empty;
            s_log.Info("starting empty with the embedded defaults");
        }
        _config = config;
        foreach (var b in config.Bridges)
        {
            var bridge = CreateBridge(b);
            foreach (var p in b.Ports)
            {
                try
                {
                    bridge.AddPort(p.ToSpec());
                }
                catch (BridgeException ex)
                {
                    _portErrors[p.Name] = ex.Message;
                    s_log.Err("port could not be added; kept in the configuration", ("bridge", b.Name), ("port", p.Name), ("error", ex.Message));
                }
            }
        }
        Persist();
    }

    private Bridge CreateBridge(BridgeConfig b)
    {
        var dp = _datapathFactory(Vswitch.Datapath.DatapathRegistry.DefaultType, b.Name);
        var bridge = new Bridge(b.Name, dp, b.ToSettings(_config.Defaults), _options.Time);
        _bridges[b.Name] = bridge;
        if (_options.StartThreads) bridge.Start();
        return bridge;
    }

    private void Persist()
    {
        _state?.Save(_config, _configDigest);
    }

    /// <summary>Applies a runtime change, then saves the new configuration; undoes the runtime change if saving fails.</summary>
    private void Commit(SwitchConfig next, Action undo)
    {
        var previous = _config;
        _config = next;
        try
        {
            Persist();
        }
        catch (IOException ex)
        {
            _config = previous;
            undo();
            throw new CommandException($"{ex.Message}; the change was undone", 1);
        }
    }

    private void RegisterCommands()
    {
        var c = Commands;
        c.Register("version", "", 0, 0, "print the version", inv => inv.Output.WriteLine($"vswitch {Version}"));
        c.Register("exit", "", 0, 0, "stop the switch", inv => _exitRequested.Set());
        c.Register("vlog/set", "SPEC...", 1, int.MaxValue, "set log levels: [MODULE|ANY][:console]:LEVEL", inv =>
        {
            var errors = new List<string>();
            foreach (var spec in inv.Args) if (!ValidateVlog(spec, out var e)) errors.Add(e!);
            if (errors.Count > 0) throw new CommandException(string.Join("; ", errors));
            foreach (var spec in inv.Args) VLog.TrySet(spec, out _);
        });
        c.Register("vlog/list", "", 0, 0, "list log modules and their levels", inv => VLog.List(inv.Output));
        c.Register("coverage/show", "", 0, 0, "show event counters", inv => Coverage.Show(inv.Output));
        c.Register("netdev-tap/get-tapname", "PORT", 1, 1, "print the kernel tap device behind tap port PORT", inv =>
        {
            var (bridge, port) = FindPort(inv.Args[0]);
            if (port.Type != "tap") throw new CommandException($"port {port.Name} on bridge {bridge.Name} is of type {port.Type}, not tap");
            string? kernel = null;
            if (_bridges.TryGetValue(bridge.Name, out var rb) && rb.FindPort(port.Name) is { } rp)
                kernel = rb.Datapath.ListPorts().FirstOrDefault(p => p.PortNo == rp.PortNo)?.InterfaceName;
            inv.Output.WriteLine(kernel ?? port.Options.FirstOrDefault(o => o.Key == "iface").Value ?? port.Name);
        });
        c.Register("add-br", "[--may-exist] BR", 1, 2, "add bridge BR", inv => AddBridge(Flags(inv, "--may-exist", out var may), may));
        c.Register("del-br", "[--if-exists] BR", 1, 2, "delete bridge BR and its ports", inv => DeleteBridge(Flags(inv, "--if-exists", out var ife), ife));
        c.Register("add-port", "[--may-exist] BR PORT [type=T] [OPTION=VALUE...] [tag=VLAN] [trunks=V1,V2] [vlan_mode=M]", 2, int.MaxValue,
            "add port PORT to bridge BR", AddPort);
        c.Register("del-port", "[--if-exists] [BR] PORT", 1, 3, "delete port PORT", DeletePort);
        c.Register("set-port", "BR PORT OPTION=VALUE...", 3, int.MaxValue,
            "change a port: type=, tag=, trunks=, vlan_mode=, or provider options (OPTION= removes one)", SetPort);
        c.Register("show", "", 0, 0, "show bridges and ports", inv => Show(inv.Output));
        RegisterDpctlConfigCommands();
    }

    private static bool ValidateVlog(string spec, out string? error)
    {
        // Validate without applying: parse the parts the way VLog.TrySet does.
        error = null;
        bool level = false;
        foreach (var part in spec.Split(':'))
        {
            if (VLog.TryParseLevel(part, out _)) { level = true; continue; }
            if (part is "console" or "ANY" or "any") continue;
            if (VLog.Modules.Any(m => m.Name == part)) continue;
            error = $"vlog/set: unknown module, destination or level '{part}' (modules: {string.Join(", ", VLog.Modules.Select(m => m.Name))}; levels: off emer err warn info dbg)";
            return false;
        }
        if (!level) { error = $"vlog/set: no level in '{spec}'"; return false; }
        return true;
    }

    private static string Flags(CommandInvocation inv, string flag, out bool set)
    {
        set = false;
        string? name = null;
        foreach (var a in inv.Args)
        {
            if (a == flag) set = true;
            else if (a.StartsWith("--", StringComparison.Ordinal)) throw new CommandException($"{inv.Name}: unknown option {a}");
            else if (name is null) name = a;
            else throw new CommandException($"{inv.Name}: too many arguments");
        }
        return name ?? throw new CommandException($"{inv.Name}: missing bridge name");
    }

    private (BridgeConfig Bridge, PortConfig Port) FindPort(string name)
    {
        foreach (var b in _config.Bridges)
            foreach (var p in b.Ports)
                if (p.Name == name) return (b, p);
        throw new CommandException($"no port named \"{name}\"");
    }

    private BridgeConfig RequireBridge(string name) =>
        _config.FindBridge(name) ?? throw new CommandException($"no bridge named \"{name}\"");

    private void AddBridge(string name, bool mayExist)
    {
        if (ConfigNames.Check(name, "bridge") is { } problem) throw new CommandException($"add-br: {problem}");
        if (_config.FindBridge(name) is not null)
        {
            if (mayExist) return;
            throw new CommandException($"add-br: bridge \"{name}\" already exists");
        }
        if (_config.FindBridgeOfPort(name) is { } owner) throw new CommandException($"add-br: \"{name}\" is already a port of bridge \"{owner.Name}\"");
        var cfg = new BridgeConfig(name, []);
        var bridge = CreateBridge(cfg);
        Commit(_config.WithBridge(cfg), () => RemoveBridgeRuntime(name));
        s_log.Info("bridge added", ("bridge", name));
        _ = bridge;
    }

    private void RemoveBridgeRuntime(string name)
    {
        if (_bridges.Remove(name, out var b)) b.Dispose();
    }

    private void DeleteBridge(string name, bool ifExists)
    {
        var cfg = _config.FindBridge(name);
        if (cfg is null)
        {
            if (ifExists) return;
            throw new CommandException($"del-br: no bridge named \"{name}\"");
        }
        var next = _config.WithoutBridge(name);
        // Save first: re-creating a disposed bridge to undo would be a change of its own.
        var previous = _config;
        _config = next;
        try
        {
            Persist();
        }
        catch (IOException ex)
        {
            _config = previous;
            throw new CommandException($"{ex.Message}; nothing was changed", 1);
        }
        RemoveBridgeRuntime(name);
        foreach (var p in cfg.Ports) _portErrors.Remove(p.Name);
        s_log.Info("bridge deleted", ("bridge", name));
    }

    /// <summary>Parses <c>key=value</c> port arguments into a port configuration based on <paramref name="basePort"/>.</summary>
    private static PortConfig ParsePortArgs(string command, PortConfig basePort, IEnumerable<string> args, bool isSet)
    {
        var type = basePort.Type;
        var options = basePort.Options.ToList();
        int? tag = basePort.Tag;
        var trunks = basePort.Trunks.ToList();
        VlanMode? mode = basePort.VlanMode;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var arg in args)
        {
            int eq = arg.IndexOf('=');
            if (eq <= 0) throw new CommandException($"{command}: \"{arg}\" is not OPTION=VALUE");
            var key = arg[..eq];
            var value = arg[(eq + 1)..];
            if (!seen.Add(key)) throw new CommandException($"{command}: {key} given twice");
            switch (key)
            {
                case "type":
                    if (value.Length == 0) throw new CommandException($"{command}: type= needs a netdev type");
                    type = value;
                    break;
                case "tag":
                    if (value.Length == 0 || value == "[]") { tag = null; break; }
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t) || t is < 1 or > 4095)
                        throw new CommandException($"{command}: tag={value}: expected a VLAN in 1..4095");
                    tag = t;
                    break;
                case "trunks":
                    if (!PortVlanConfig.TryParseTrunks(value == "[]" ? "" : value, out var list, out var terr))
                        throw new CommandException($"{command}: {terr}");
                    trunks = list;
                    break;
                case "vlan_mode":
                    if (value.Length == 0 || value == "[]") { mode = null; break; }
                    if (!PortVlanConfig.TryParseMode(value, out var m))
                        throw new CommandException($"{command}: vlan_mode={value}: expected access, trunk, native-tagged or native-untagged");
                    mode = m;
                    break;
                default:
                    if (key.Contains(',') || value.Contains(',')) throw new CommandException($"{command}: \"{arg}\": option names and values cannot contain ','");
                    int i = options.FindIndex(o => o.Key == key);
                    if (value.Length == 0 && isSet)
                    {
                        if (i < 0) throw new CommandException($"{command}: port {basePort.Name} has no option {key} to remove");
                        options.RemoveAt(i);
                    }
                    else if (i >= 0) options[i] = new(key, value);
                    else options.Add(new(key, value));
                    break;
            }
        }
        if (!PortVlanConfig.TryCreate(mode, tag, trunks, out _, out var verr)) throw new CommandException($"{command}: port {basePort.Name}: {verr}");
        return new PortConfig(basePort.Name, type, options, tag, trunks, mode);
    }

    private void AddPort(CommandInvocation inv)
    {
        var args = inv.Args.ToList();
        bool mayExist = args.Remove("--may-exist");
        if (args.Count < 2) throw new CommandException("add-port: usage: add-port BR PORT [type=T] [OPTION=VALUE...]");
        AddPortCore("add-port", args[0], args[1], args.Skip(2), mayExist);
    }

    private void AddPortCore(string command, string brName, string portName, IEnumerable<string> settings, bool mayExist)
    {
        var br = RequireBridge(brName);
        if (ConfigNames.Check(portName, "port") is { } problem) throw new CommandException($"{command}: {problem}");
        if (_config.FindBridgeOfPort(portName) is { } owner)
        {
            if (mayExist && owner.Name == brName) return;
            throw new CommandException($"{command}: port \"{portName}\" already exists on bridge \"{owner.Name}\"");
        }
        if (_config.FindBridge(portName) is not null) throw new CommandException($"{command}: \"{portName}\" is a bridge name");
        var port = ParsePortArgs(command, new PortConfig(portName, PortConfig.DefaultType, [], null, [], null), settings, isSet: false);
        var bridge = _bridges[brName];
        bridge.AddPort(port.ToSpec());   // throws BridgeException (nothing changed) when the datapath refuses
        Commit(_config.WithBridge(br with { Ports = [.. br.Ports, port] }), () => bridge.DeletePort(portName));
    }

    /// <summary>ovs-dpctl's interface argument: <c>NETDEV[,OPTION=VALUE...]</c>.</summary>
    private static (string Name, string[] Settings) SplitInterface(string arg)
    {
        var parts = arg.Split(',');
        return (parts[0], parts[1..]);
    }

    private static string DatapathName(string dp)
    {
        int at = dp.IndexOf('@');
        return at >= 0 ? dp[(at + 1)..] : dp;
    }

    private void RegisterDpctlConfigCommands()
    {
        var c = Commands;
        c.Register("dpctl/add-dp", "DP [NETDEV[,OPTION=VALUE...]...]", 1, int.MaxValue, "create datapath DP (a bridge) with the given ports", inv =>
        {
            var name = DatapathName(inv.Args[0]);
            var ifaces = inv.Args.Skip(1).Select(SplitInterface).ToList();
            var dupe = ifaces.GroupBy(i => i.Name).FirstOrDefault(g => g.Count() > 1);
            if (dupe is not null) throw new CommandException($"dpctl/add-dp: interface {dupe.Key} given twice");
            foreach (var (n, settings) in ifaces)   // validate everything before changing anything
            {
                if (ConfigNames.Check(n, "port") is { } problem) throw new CommandException($"dpctl/add-dp: {problem}");
                if (_config.FindBridgeOfPort(n) is { } owner) throw new CommandException($"dpctl/add-dp: port \"{n}\" already exists on bridge \"{owner.Name}\"");
                ParsePortArgs("dpctl/add-dp", new PortConfig(n, PortConfig.DefaultType, [], null, [], null), settings, isSet: false);
            }
            AddBridge(name, mayExist: false);
            try
            {
                foreach (var (n, settings) in ifaces) AddPortCore("dpctl/add-dp", name, n, settings, mayExist: false);
            }
            catch
            {
                DeleteBridge(name, ifExists: true);
                throw;
            }
        });
        c.Register("dpctl/del-dp", "DP", 1, 1, "delete datapath DP (its bridge and ports)", inv => DeleteBridge(DatapathName(inv.Args[0]), ifExists: false));
        c.Register("dpctl/add-if", "DP NETDEV[,OPTION=VALUE...]...", 2, int.MaxValue, "add ports to DP", inv =>
        {
            var dp = DatapathName(inv.Args[0]);
            RequireBridge(dp);
            var added = new List<string>();
            try
            {
                foreach (var arg in inv.Args.Skip(1))
                {
                    var (n, settings) = SplitInterface(arg);
                    AddPortCore("dpctl/add-if", dp, n, settings, mayExist: false);
                    added.Add(n);
                }
            }
            catch
            {
                foreach (var n in added) RemovePortCore(n);
                throw;
            }
        });
        c.Register("dpctl/set-if", "DP NETDEV,OPTION=VALUE...", 2, 2, "change a port's options", inv =>
        {
            var (n, settings) = SplitInterface(inv.Args[1]);
            if (settings.Length == 0) throw new CommandException("dpctl/set-if: nothing to set (NETDEV,OPTION=VALUE...)");
            SetPortCore("dpctl/set-if", DatapathName(inv.Args[0]), n, settings);
        });
        c.Register("dpctl/del-if", "DP NETDEV...", 2, int.MaxValue, "remove ports from DP", inv =>
        {
            var br = RequireBridge(DatapathName(inv.Args[0]));
            foreach (var n in inv.Args.Skip(1))
                if (!br.Ports.Any(p => p.Name == n)) throw new CommandException($"dpctl/del-if: {br.Name} has no port {n}");
            foreach (var n in inv.Args.Skip(1)) RemovePortCore(n);
        });
    }

    private void DeletePort(CommandInvocation inv)
    {
        var args = inv.Args.ToList();
        bool ifExists = args.Remove("--if-exists");
        if (args.Count is < 1 or > 2) throw new CommandException("del-port: usage: del-port [--if-exists] [BR] PORT");
        var portName = args[^1];
        var owner = _config.FindBridgeOfPort(portName);
        if (args.Count == 2)
        {
            var br = RequireBridge(args[0]);
            if (owner is not null && owner.Name != br.Name)
                throw new CommandException($"del-port: port \"{portName}\" is on bridge \"{owner.Name}\", not \"{br.Name}\"");
        }
        if (owner is null)
        {
            if (ifExists) return;
            throw new CommandException($"del-port: no port named \"{portName}\"");
        }
        RemovePortCore(portName);
    }

    private void RemovePortCore(string portName)
    {
        var owner = _config.FindBridgeOfPort(portName) ?? throw new CommandException($"no port named \"{portName}\"");
        var bridge = _bridges[owner.Name];
        var port = owner.Ports.First(p => p.Name == portName);
        if (bridge.FindPort(portName) is not null) bridge.DeletePort(portName);
        Commit(_config.WithBridge(owner with { Ports = owner.Ports.Where(p => p.Name != portName).ToList() }), () =>
        {
            try { bridge.AddPort(port.ToSpec()); } catch (BridgeException) { }
        });
        _portErrors.Remove(portName);
    }

    private void SetPort(CommandInvocation inv) => SetPortCore("set-port", inv.Args[0], inv.Args[1], inv.Args.Skip(2));

    private void SetPortCore(string command, string brName, string portName, IEnumerable<string> settings)
    {
        var br = RequireBridge(brName);
        var old = br.Ports.FirstOrDefault(p => p.Name == portName)
            ?? throw new CommandException($"{command}: bridge \"{br.Name}\" has no port \"{portName}\"");
        var updated = ParsePortArgs(command, old, settings, isSet: true);
        var bridge = _bridges[br.Name];
        if (bridge.FindPort(portName) is null)
        {
            bridge.AddPort(updated.ToSpec());
            _portErrors.Remove(portName);
            Commit(_config.WithBridge(br with { Ports = br.Ports.Select(p => p.Name == portName ? updated : p).ToList() }), () => bridge.DeletePort(portName));
            return;
        }
        bridge.ReconfigurePort(updated.ToSpec());
        Commit(_config.WithBridge(br with { Ports = br.Ports.Select(p => p.Name == portName ? updated : p).ToList() }), () =>
        {
            try { bridge.ReconfigurePort(old.ToSpec()); } catch (BridgeException) { }
        });
    }

    private void Show(TextWriter o)
    {
        o.WriteLine($"vswitch {Version}");
        foreach (var b in _config.Bridges)
        {
            o.WriteLine($"    Bridge {b.Name}");
            var runtime = _bridges.GetValueOrDefault(b.Name);
            foreach (var p in b.Ports)
            {
                o.WriteLine($"        Port {p.Name}");
                var rp = runtime?.FindPort(p.Name);
                if (rp is not null) o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"            port_no: {rp.PortNo}"));
                o.WriteLine($"            type: {p.Type}");
                if (p.Options.Count > 0) o.WriteLine($"            options: {{{string.Join(", ", p.Options.Select(kv => $"{kv.Key}={kv.Value}"))}}}");
                if (p.VlanMode is { } m) o.WriteLine($"            vlan_mode: {PortVlanConfig.FormatMode(m)}");
                if (p.Tag is { } t) o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"            tag: {t}"));
                if (p.Trunks.Count > 0) o.WriteLine($"            trunks: [{string.Join(", ", p.Trunks)}]");
                if (_portErrors.TryGetValue(p.Name, out var err)) o.WriteLine($"            error: \"{err}\"");
            }
        }
    }

    /// <summary>Stops every bridge (the saved state stays).</summary>
    public void Dispose()
    {
        foreach (var b in _bridges.Values) b.Dispose();
        _bridges.Clear();
        _exitRequested.Dispose();
    }
}
