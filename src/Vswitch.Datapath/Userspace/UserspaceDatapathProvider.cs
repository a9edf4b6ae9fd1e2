using Vswitch.Interop.Linux;

namespace Vswitch.Datapath.Userspace;

/// <summary>
/// The userspace datapath provider, type <c>netdev</c> as in Open vSwitch: datapaths live in this process, forward
/// with poll threads and keep their flow table in memory. Datapaths are kept per provider instance (register one
/// instance per process, with <see cref="UserspaceDatapathRegistryExtensions.AddUserspaceProvider"/>). Thread-safe.
/// </summary>
public sealed class UserspaceDatapathProvider : IDatapathProvider
{
    /// <summary>The type name.</summary>
    public const string TypeName = "netdev";

    private readonly Dictionary<string, UserspaceDatapath> _datapaths = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly UserspaceDatapathOptions _options;

    /// <summary>Creates the provider; every datapath it creates uses <paramref name="options"/> (defaults when null).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public UserspaceDatapathProvider(UserspaceDatapathOptions? options = null)
    {
        _options = options ?? new UserspaceDatapathOptions();
        if (!_options.Validate(out var error)) throw new ArgumentException(error, nameof(options));
    }

    /// <inheritdoc/>
    public string Type => TypeName;

    /// <summary>The options datapaths are created with.</summary>
    public UserspaceDatapathOptions Options => _options;

    /// <inheritdoc/>
    public Errno Enumerate(ICollection<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        lock (_lock)
            foreach (var n in _datapaths.Keys.Order(StringComparer.Ordinal)) names.Add(n);
        return Errno.Success;
    }

    /// <inheritdoc/>
    public Errno Open(string name, bool create, out IDatapath? datapath)
    {
        datapath = null;
        if (string.IsNullOrEmpty(name) || name.Length > 15 || name.Contains('/') || name.Any(char.IsWhiteSpace)) return Errno.EINVAL;
        lock (_lock)
        {
            if (!_datapaths.TryGetValue(name, out var dp))
            {
                if (!create) return Errno.ENODEV;
                dp = new UserspaceDatapath(this, name, _options, OdpFlowKeyValidator.Instance);
                _datapaths.Add(name, dp);
            }
            datapath = new UserspaceDatapathHandle(dp);
            return Errno.Success;
        }
    }

    internal void Forget(UserspaceDatapath dp)
    {
        lock (_lock)
            if (_datapaths.TryGetValue(dp.Name, out var cur) && ReferenceEquals(cur, dp)) _datapaths.Remove(dp.Name);
    }
}
