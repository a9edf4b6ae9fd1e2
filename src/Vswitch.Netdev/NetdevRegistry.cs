using System.Diagnostics.CodeAnalysis;
using Vswitch.Interop.Linux;
using Vswitch.Packets;

namespace Vswitch.Netdev;

/// <summary>
/// The set of network-device providers, looked up by type name or alias (as bhyve picks a backend by
/// name prefix). Thread-safe. Registration refuses a name already taken by another provider.
/// </summary>
public sealed class NetdevRegistry
{
    private readonly Dictionary<string, INetdevProvider> _byName = new(StringComparer.Ordinal);
    private readonly List<INetdevProvider> _providers = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// Adds <paramref name="provider"/> under its type and aliases. Throws <see cref="InvalidOperationException"/>
    /// naming the clash if any of those names is already registered (nothing is added then).
    /// </summary>
    public void Register(INetdevProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        lock (_lock)
        {
            var names = new List<string> { provider.Type };
            names.AddRange(provider.Aliases);
            foreach (var n in names)
            {
                if (string.IsNullOrWhiteSpace(n))
                    throw new ArgumentException($"netdev provider '{provider.Type}': empty type name or alias");
                if (_byName.TryGetValue(n, out var other))
                    throw new InvalidOperationException($"netdev type '{n}' is already registered by provider '{other.Type}'");
            }
            if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
                throw new ArgumentException($"netdev provider '{provider.Type}': duplicate name among its type and aliases");
            foreach (var n in names) _byName[n] = provider;
            _providers.Add(provider);
        }
    }

    /// <summary>The registered providers in registration order.</summary>
    public IReadOnlyList<INetdevProvider> Providers
    {
        get { lock (_lock) return _providers.ToArray(); }
    }

    /// <summary>Finds a provider by type name or alias.</summary>
    public bool TryGetProvider(string type, [NotNullWhen(true)] out INetdevProvider? provider)
    {
        lock (_lock) return _byName.TryGetValue(type, out provider);
    }

    /// <summary>
    /// Checks <paramref name="options"/> against the provider's option list. False with an error naming
    /// the first unknown key and listing the known ones.
    /// </summary>
    public static bool ValidateOptionKeys(INetdevProvider provider, NetdevOptions options, [NotNullWhen(false)] out string? error)
    {
        foreach (var (key, _) in options)
        {
            bool known = false;
            foreach (var d in provider.Options) if (d.Key == key) { known = true; break; }
            if (!known)
            {
                var list = provider.Options.Count == 0 ? "none" : string.Join(", ", provider.Options.Select(o => o.Key));
                error = $"{provider.Type}: unknown option '{key}' (known options: {list})";
                return false;
            }
        }
        error = null;
        return true;
    }

    /// <summary>
    /// Opens a device of type <paramref name="type"/>. <c>EAFNOSUPPORT</c> for an unknown type, <c>EINVAL</c> for an
    /// unknown option key, otherwise whatever the provider returns; <paramref name="error"/> always names the problem.
    /// </summary>
    public Errno Open(string type, string name, NetdevOptions options, PacketPool pool, out Netdev? device, out string? error)
    {
        device = null;
        if (!TryGetProvider(type, out var provider))
        {
            string known;
            lock (_lock) known = string.Join(", ", _byName.Keys.Order(StringComparer.Ordinal));
            error = $"unknown netdev type '{type}' (known types: {known})";
            return Errno.EAFNOSUPPORT;
        }
        if (!ValidateOptionKeys(provider, options, out error)) return Errno.EINVAL;
        var rc = provider.Open(new NetdevOpenRequest(name, options, pool), out device, out error);
        if (rc.IsError)
        {
            device?.Dispose();
            device = null;
            error ??= $"{type}: cannot open '{name}': {rc}";
        }
        else if (device is null)
        {
            error = $"{type}: provider returned success without a device";
            return Errno.EIO;
        }
        return rc;
    }
}
