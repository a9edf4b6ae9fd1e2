using System.Diagnostics.CodeAnalysis;
using Vswitch.Interop.Linux;

namespace Vswitch.Datapath;

/// <summary>
/// The set of datapath providers by type name (OVS's dpif.c class table). Thread-safe. Opening through the registry
/// gives a <see cref="Datapath"/>, the API edge that turns errors into <see cref="DatapathException"/>s.
/// </summary>
public sealed class DatapathRegistry
{
    /// <summary>The type assumed when none is given.</summary>
    public const string DefaultType = "netdev";

    private readonly Dictionary<string, IDatapathProvider> _providers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Adds a provider. Throws <see cref="InvalidOperationException"/> when its type is already registered.</summary>
    public void Register(IDatapathProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (string.IsNullOrWhiteSpace(provider.Type)) throw new ArgumentException("datapath provider with an empty type name");
        lock (_lock)
        {
            if (!_providers.TryAdd(provider.Type, provider))
                throw new InvalidOperationException($"datapath type '{provider.Type}' is already registered");
        }
    }

    /// <summary>Registered type names, sorted.</summary>
    public IReadOnlyList<string> Types
    {
        get { lock (_lock) return _providers.Keys.Order(StringComparer.Ordinal).ToArray(); }
    }

    /// <summary>Finds a provider by type.</summary>
    public bool TryGetProvider(string type, [NotNullWhen(true)] out IDatapathProvider? provider)
    {
        lock (_lock) return _providers.TryGetValue(type, out provider);
    }

    /// <summary>Names of all existing datapaths of every type, as <c>type@name</c> (OVS's dp_enumerate_names).</summary>
    public IReadOnlyList<string> EnumerateAll()
    {
        IDatapathProvider[] providers;
        lock (_lock) providers = _providers.Values.ToArray();
        var result = new List<string>();
        foreach (var p in providers)
        {
            var names = new List<string>();
            if (p.Enumerate(names).IsSuccess)
                foreach (var n in names) result.Add($"{p.Type}@{n}");
        }
        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>
    /// Opens (and with <paramref name="create"/> creates if needed) datapath <paramref name="name"/> of
    /// <paramref name="type"/>. Returns <c>EAFNOSUPPORT</c> for an unknown type with <paramref name="error"/> listing the
    /// known ones, otherwise what the provider returns.
    /// </summary>
    public Errno TryOpen(string type, string name, bool create, out Datapath? datapath, out string? error)
    {
        datapath = null;
        error = null;
        if (!TryGetProvider(type, out var provider))
        {
            error = $"unknown datapath type '{type}' (known types: {string.Join(", ", Types)})";
            return Errno.EAFNOSUPPORT;
        }
        var rc = provider.Open(name, create, out var handle);
        if (rc.IsError)
        {
            handle?.Dispose();
            error = $"datapath '{name}' (type {type}): cannot {(create ? "create" : "open")}: {rc}";
            return rc;
        }
        datapath = new Datapath(handle!);
        return Errno.Success;
    }

    /// <summary>Like <see cref="TryOpen"/> but throws <see cref="DatapathException"/> naming the datapath on failure.</summary>
    public Datapath Open(string type, string name, bool create)
    {
        var rc = TryOpen(type, name, create, out var dp, out var error);
        if (rc.IsError) throw new DatapathException(name, create ? "create" : "open", rc, error);
        return dp!;
    }
}
