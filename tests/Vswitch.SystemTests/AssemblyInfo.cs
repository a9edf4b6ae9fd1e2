// System tests share 2 CPU cores with other work and measure traffic through one datapath each: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
// The harness builds on the daemon's DatapathRuntime, which (like the daemon) runs on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
