
namespace Vswitch.Switch.Commands;

/// <summary>The bridges a switch runs, as the management commands see them.</summary>
public interface IBridgeSet
{
    /// <summary>The bridges, sorted by name. Called with the command lock held.</summary>
    IReadOnlyList<Bridge> Bridges { get; }
}

/// <summary>Lookups over an <see cref="IBridgeSet"/> shared by the commands.</summary>
public static class BridgeSetExtensions
{
    /// <summary>The bridge named <paramref name="name"/>, or a <see cref="CommandException"/> naming it.</summary>
    public static Bridge Find(this IBridgeSet bridges, string name)
    {
        foreach (var b in bridges.Bridges) if (b.Name == name) return b;
        throw new CommandException($"no such bridge \"{name}\"");
    }
}
