using Vswitch.Interop.Linux;

namespace Vswitch.Datapath;

/// <summary>
/// A datapath provider: one implementation of the datapath contract (OVS's <c>dpif_class</c>), e.g. the
/// userspace datapath of type <c>netdev</c>. Registered once in a <see cref="DatapathRegistry"/>.
/// </summary>
/// <remarks>
/// Every member returns 0 or a positive <see cref="Errno"/> and never throws for bad input; all members are
/// thread-safe and may be called from any thread (they are control-plane calls, never on a poll thread).
/// </remarks>
public interface IDatapathProvider
{
    /// <summary>The type name, e.g. <c>netdev</c>. Lower case, unique within a registry.</summary>
    string Type { get; }

    /// <summary>
    /// Adds the names of every datapath of this type that currently exists to <paramref name="names"/>, without
    /// disturbing names already in it (the caller may be collecting several providers' names).
    /// </summary>
    /// <remarks>Blocking: no. Errors: none for in-process providers; <c>EOPNOTSUPP</c> if not enumerable.</remarks>
    Errno Enumerate(ICollection<string> names);

    /// <summary>
    /// Opens the datapath called <paramref name="name"/>. When <paramref name="create"/> is true, opens it if it exists
    /// and creates it otherwise (the seed's contract); when false, only an existing datapath is opened.
    /// </summary>
    /// <remarks>
    /// <para>Ownership: on success the caller owns the returned handle and must <see cref="IDisposable.Dispose"/> it
    /// (OVS's close). Several handles may be open on one datapath; closing a handle never destroys the datapath
    /// (see <see cref="IDatapath.Destroy"/>).</para>
    /// <para>Blocking: creating may start poll threads and briefly block. Errors: <c>ENODEV</c> when
    /// <paramref name="create"/> is false and no such datapath exists; <c>EINVAL</c> for an empty or over-long name
    /// (more than 15 characters, IFNAMSIZ-1, since the local port carries the same name). On failure nothing is left behind.</para>
    /// </remarks>
    Errno Open(string name, bool create, out IDatapath? datapath);
}
