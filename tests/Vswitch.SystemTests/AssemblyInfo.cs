// System tests share 2 CPU cores with other work and measure traffic through one datapath each: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
