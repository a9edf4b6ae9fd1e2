using Vswitch.Netdev;

namespace Vswitch.Datapath.Userspace;

/// <summary>A port as the userspace datapath keeps it.</summary>
internal sealed class DpPort
{
    /// <param name="portNo">Datapath port number.</param>
    /// <param name="device">The open device.</param>
    /// <param name="senders">How many contexts may transmit (sender ids 0..senders-1; sender s uses tx queue s mod queues).</param>
    public DpPort(uint portNo, Netdev.Netdev device, int senders)
    {
        PortNo = portNo;
        Device = device;
        int queues = Math.Max(1, device.TxQueueCount);
        TxLocks = new int[queues];
        TxShared = new bool[queues];
        var users = new int[queues];
        for (int s = 0; s < senders; s++) users[s % queues]++;
        for (int q = 0; q < queues; q++) TxShared[q] = users[q] > 1;
        Public = new DatapathPort(portNo, device.Name, device.Type, device);
        LastChangeSeq = device.ChangeSeq;
    }

    public uint PortNo { get; }
    public Netdev.Netdev Device { get; }
    public DatapathPort Public { get; }

    /// <summary>One spin-lock word per tx queue, taken only for a shared queue (see <see cref="PollContext"/>).</summary>
    public int[] TxLocks { get; }

    /// <summary>Per tx queue: true when more than one sender maps to it, so sends must be serialised.</summary>
    public bool[] TxShared { get; }

    /// <summary>The device change sequence last reported by port poll (control lock).</summary>
    public long LastChangeSeq;
}

/// <summary>An rx queue assigned to a poll thread.</summary>
internal readonly record struct RxAssignment(DpPort Port, NetdevRxQueue Queue);

/// <summary>
/// An immutable snapshot of the ports and of the rx-queue-to-thread assignment, replaced as a whole on every port
/// change and published with a volatile write (poll threads compare the reference once per loop).
/// </summary>
internal sealed class PortTable
{
    public PortTable(DpPort?[] byNumber, int threads)
    {
        ByNumber = byNumber;
        var ports = new List<DpPort>();
        foreach (var p in byNumber) if (p is not null) ports.Add(p);
        Ports = ports.ToArray();
        // Every rx queue goes to exactly one thread, round-robin over (port, queue) in port order.
        int slots = Math.Max(1, threads);
        var per = new List<RxAssignment>[slots];
        for (int i = 0; i < slots; i++) per[i] = [];
        int k = 0;
        foreach (var p in Ports)
            for (int q = 0; q < p.Device.RxQueueCount; q++)
                per[k++ % slots].Add(new RxAssignment(p, p.Device.GetRxQueue(q)));
        PerThread = per.Select(l => l.ToArray()).ToArray();
    }

    public DpPort?[] ByNumber { get; }
    public DpPort[] Ports { get; }
    public RxAssignment[][] PerThread { get; }
}
