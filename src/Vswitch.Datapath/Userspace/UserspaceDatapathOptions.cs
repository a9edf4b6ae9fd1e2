namespace Vswitch.Datapath.Userspace;

/// <summary>Tunables of the userspace datapath, fixed at creation.</summary>
public sealed record UserspaceDatapathOptions
{
    /// <summary>
    /// Poll threads (each owns a disjoint set of rx queues; every rx queue is polled by exactly one thread).
    /// 0 = no threads: the owner drives the datapath with <see cref="UserspaceDatapathHandle.PollOnce"/> (tests, benchmarks). Default 1.
    /// </summary>
    public int PollThreads { get; init; } = 1;

    /// <summary>Port numbers are below this (<see cref="IDatapath.MaxPorts"/>). Default 256, as OVS's userspace datapath had.</summary>
    public int MaxPorts { get; init; } = 256;

    /// <summary>Flow limit; creating more fails with <c>EFBIG</c>. Default 65,536.</summary>
    public int MaxFlows { get; init; } = 65536;

    /// <summary>Upcalls held at most, all ports together; more are dropped and counted as lost. Default 1024.</summary>
    public int UpcallQueueCapacity { get; init; } = 1024;

    /// <summary>
    /// Upcalls held at most for one input port. 0 (default) = the whole <see cref="UpcallQueueCapacity"/>: fairness then comes
    /// from round-robin service over the ports and from longest-queue drop when the queue is full (an upcall of a port with a
    /// shorter queue takes the place of the newest upcall of the longest one), so a port alone may use the whole queue.
    /// </summary>
    public int UpcallQueuePerPortCapacity { get; init; }

    /// <summary>Exact-match cache entries per poll thread (rounded up to a power of two). Default 8192, as OVS's EMC.</summary>
    public int EmcEntries { get; init; } = 8192;

    /// <summary>Rx and tx queues of the local port (port 0, an <see cref="InternalNetdev"/>). Default 1.</summary>
    public int LocalPortQueues { get; init; } = 1;

    /// <summary>Checks the values; false with an error naming the bad one.</summary>
    public bool Validate(out string? error)
    {
        error = PollThreads is < 0 or > 64 ? $"PollThreads={PollThreads}: must be 0..64"
            : MaxPorts is < 2 or > 65535 ? $"MaxPorts={MaxPorts}: must be 2..65535"
            : MaxFlows is < 1 or > 10_000_000 ? $"MaxFlows={MaxFlows}: must be 1..10000000"
            : UpcallQueueCapacity is < 1 or > 1 << 20 ? $"UpcallQueueCapacity={UpcallQueueCapacity}: must be 1..1048576"
            : UpcallQueuePerPortCapacity < 0 || UpcallQueuePerPortCapacity > UpcallQueueCapacity
                ? $"UpcallQueuePerPortCapacity={UpcallQueuePerPortCapacity}: must be 0..UpcallQueueCapacity ({UpcallQueueCapacity})"
            : EmcEntries is < 16 or > 1 << 20 ? $"EmcEntries={EmcEntries}: must be 16..1048576"
            : LocalPortQueues is < 1 or > 64 ? $"LocalPortQueues={LocalPortQueues}: must be 1..64"
            : null;
        return error is null;
    }
}
