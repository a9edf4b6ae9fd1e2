namespace Vswitch.Cli;

/// <summary><c>vswitch demo</c>.</summary>
internal static class Demo
{
    /// <summary>Runs the demo (needs the tap netdev and the userspace datapath).</summary>
    public static int Run()
    {
        Console.Error.WriteLine("vswitch: demo needs the tap netdev provider and the userspace datapath, which this build does not include yet");
        return 1;
    }
}
