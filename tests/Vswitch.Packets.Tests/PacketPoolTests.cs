using Vswitch.Packets;

namespace Vswitch.Packets.Tests;

public class PacketPoolTests
{
    [Fact]
    public void RentAll_ThenExhausted_CountedAndRecoverable()
    {
        using var pool = new PacketPool(4);
        Assert.Equal(4, pool.Capacity);
        Assert.Equal(4, pool.Available);
        var rented = new List<PacketBuffer>();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(pool.TryRent(out var b));
            rented.Add(b);
        }
        Assert.Equal(4, rented.Select(b => b.Index).Distinct().Count());
        Assert.Equal(0, pool.Available);
        Assert.Equal(0, pool.ExhaustedCount);

        Assert.False(pool.TryRent(out var none));
        Assert.Null(none);
        Assert.False(pool.TryRent(out _));
        Assert.Equal(2, pool.ExhaustedCount);

        rented[2].Release();
        Assert.Equal(1, pool.Available);
        Assert.True(pool.TryRent(out var again));
        Assert.Same(rented[2], again);
        Assert.Equal(2, pool.ExhaustedCount);

        foreach (var b in rented) b.Release();
        Assert.Equal(4, pool.Available);
    }

    [Fact]
    public void Rent_ResetsFrameMetadataAndLayout()
    {
        using var pool = new PacketPool(1);
        Assert.True(pool.TryRent(out var b));
        Assert.True(b.TrySetFrame(new byte[100]));
        Assert.True(b.TryPush(10));
        b.Metadata.InPort = 5;
        b.Layout.L3Offset = 14;
        b.Release();
        Assert.True(pool.TryRent(out var c));
        Assert.Same(b, c);
        Assert.Equal(0, c.Length);
        Assert.Equal(PacketBuffer.DefaultHeadroom, c.Headroom);
        Assert.Equal(0u, c.Metadata.InPort);
        Assert.Equal(-1, c.Layout.L3Offset);
        Assert.Equal(-1, c.Layout.L4Offset);
        Assert.Same(pool, c.Pool);
    }

    [Fact]
    public void ConcurrentRentReturn_FromTwoThreads_PreservesBufferCount()
    {
        const int capacity = 64;
        using var pool = new PacketPool(capacity);
        using var start = new Barrier(2);
        long failures = 0;
        void Worker(int seed)
        {
            var rng = new Random(seed);
            var held = new List<PacketBuffer>();
            start.SignalAndWait();
            for (int i = 0; i < 200_000; i++)
            {
                if (held.Count < 40 && (held.Count == 0 || rng.Next(2) == 0))
                {
                    if (pool.TryRent(out var b)) { b.Data.Length.ToString(); held.Add(b); }
                    else Interlocked.Increment(ref failures);
                }
                else
                {
                    int k = rng.Next(held.Count);
                    held[k].Release();
                    held.RemoveAt(k);
                }
            }
            foreach (var b in held) b.Release();
        }
        var t1 = new Thread(() => Worker(1));
        var t2 = new Thread(() => Worker(2));
        t1.Start(); t2.Start();
        t1.Join(); t2.Join();

        Assert.Equal(capacity, pool.Available);
        Assert.Equal(Interlocked.Read(ref failures), pool.ExhaustedCount);
        // Every buffer is still there exactly once.
        var seen = new HashSet<int>();
        for (int i = 0; i < capacity; i++)
        {
            Assert.True(pool.TryRent(out var b));
            Assert.True(seen.Add(b.Index), $"buffer {b.Index} rented twice");
        }
        Assert.False(pool.TryRent(out _));
    }

    [Fact]
    public void Headroom_PushAndPull_MoveTheFrameStartWithoutCopying()
    {
        using var pool = new PacketPool(1);
        Assert.True(pool.TryRent(out var b));
        byte[] frame = [.. Enumerable.Range(0, 60).Select(i => (byte)i)];
        Assert.True(b.TrySetFrame(frame));
        Assert.Equal(60, b.Length);
        Assert.Equal(PacketBuffer.DefaultHeadroom, b.Headroom);
        Assert.Equal(PacketBuffer.BufferSize - PacketBuffer.DefaultHeadroom - 60, b.Tailroom);

        // Push a VLAN tag's worth of bytes: old frame now starts 4 bytes in.
        Assert.True(b.TryPush(4));
        Assert.Equal(64, b.Length);
        Assert.Equal(PacketBuffer.DefaultHeadroom - 4, b.Headroom);
        Assert.True(b.Data[4..].SequenceEqual(frame));

        // Cannot push more than the headroom; the buffer is unchanged.
        Assert.False(b.TryPush(b.Headroom + 1));
        Assert.Equal(64, b.Length);
        Assert.True(b.TryPush(b.Headroom));
        Assert.Equal(0, b.Headroom);
        Assert.True(b.TryPull(PacketBuffer.DefaultHeadroom));
        Assert.Equal(60, b.Length);
        Assert.True(b.Data.SequenceEqual(frame));

        Assert.False(b.TryPull(61));
        Assert.True(b.TryPull(14));
        Assert.Equal(46, b.Length);
        Assert.Equal(14, b.Data[0]);

        b.Truncate(10);
        Assert.Equal(10, b.Length);
        b.Truncate(20); // no effect when longer
        Assert.Equal(10, b.Length);
        Assert.True(b.TryAppend(5));
        Assert.Equal(15, b.Length);
        Assert.False(b.TryAppend(b.Tailroom + 1));
    }

    [Fact]
    public void SetFrame_RejectsOversizedFrame_AndSetLengthBounds()
    {
        using var pool = new PacketPool(1);
        Assert.True(pool.TryRent(out var b));
        Assert.True(b.TrySetFrame(new byte[10]));
        Assert.False(b.TrySetFrame(new byte[PacketBuffer.MaxFrameSize + 1]));
        Assert.Equal(10, b.Length);
        var rx = b.ResetForReceive();
        Assert.Equal(PacketBuffer.MaxFrameSize, rx.Length);
        Assert.True(b.SetLength(PacketBuffer.MaxFrameSize));
        Assert.False(b.SetLength(PacketBuffer.MaxFrameSize + 1));
        Assert.False(b.SetLength(-1));
    }

    [Fact]
    public void Clone_CopiesFrameMetadataLayout_AndCountsExhaustion()
    {
        using var pool = new PacketPool(2);
        Assert.True(pool.TryRent(out var a));
        Assert.True(a.TrySetFrame([1, 2, 3, 4, 5]));
        Assert.True(a.TryPush(2));
        a.Metadata.InPort = 9;
        a.Layout.L3Offset = 14;
        Assert.True(a.TryClone(pool, out var copy));
        Assert.NotSame(a, copy);
        Assert.True(copy.Data.SequenceEqual(a.Data));
        Assert.Equal(a.Headroom, copy.Headroom);
        Assert.Equal(9u, copy.Metadata.InPort);
        Assert.Equal(14, copy.Layout.L3Offset);
        copy.Data[3] = 0xEE;
        Assert.Equal(2, a.Data[3]);
        Assert.False(a.TryClone(pool, out _));
        Assert.Equal(1, pool.ExhaustedCount);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData((1 << 20) + 1)]
    public void Constructor_RejectsBadCapacity(int capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketPool(capacity));
}

public class PacketBatchTests
{
    [Fact]
    public void AddUpToCapacity_ThenFull()
    {
        using var pool = new PacketPool(PacketBatch.Capacity + 1);
        var batch = new PacketBatch();
        Assert.Equal(0, batch.Count);
        Assert.Equal(PacketBatch.Capacity, batch.FreeCount);
        for (int i = 0; i < PacketBatch.Capacity; i++)
        {
            Assert.True(pool.TryRent(out var b));
            Assert.True(batch.TryAdd(b));
        }
        Assert.True(batch.IsFull);
        Assert.True(pool.TryRent(out var extra));
        Assert.False(batch.TryAdd(extra));
        Assert.Equal(PacketBatch.Capacity, batch.Count);
        batch.ReleaseAll();
        extra.Release();
        Assert.Equal(0, batch.Count);
        Assert.Equal(pool.Capacity, pool.Available);
    }

    [Fact]
    public void Indexer_And_RemoveAtSwapBack()
    {
        using var pool = new PacketPool(8);
        var batch = new PacketBatch();
        Assert.Equal(3, pool.RentBatch(ref batch, 3));
        var p0 = batch[0]; var p1 = batch[1]; var p2 = batch[2];
        Assert.Equal(3, batch.AsSpan().Length);

        var removed = batch.RemoveAtSwapBack(0);
        Assert.Same(p0, removed);
        Assert.Equal(2, batch.Count);
        Assert.Same(p2, batch[0]);
        Assert.Same(p1, batch[1]);
        removed.Release();

        Assert.Throws<ArgumentOutOfRangeException>(() => { var b = batch; _ = b[2]; });
        Assert.Throws<ArgumentOutOfRangeException>(() => { var b = batch; _ = b[-1]; });
        Assert.Throws<ArgumentOutOfRangeException>(() => { var b = batch; b.RemoveAtSwapBack(5); });

        batch[1] = p1;
        batch.ReleaseAll();
        Assert.Equal(8, pool.Available);
    }

    [Fact]
    public void Clear_ForgetsWithoutReleasing()
    {
        using var pool = new PacketPool(4);
        var batch = new PacketBatch();
        Assert.Equal(4, pool.RentBatch(ref batch, 10));
        var held = batch.AsSpan().ToArray();
        batch.Clear();
        Assert.Equal(0, batch.Count);
        Assert.Equal(0, pool.Available);
        foreach (var b in held) b!.Release();
        Assert.Equal(4, pool.Available);
    }

    [Fact]
    public void RentBatch_StopsAtFreeSpaceOrPoolExhaustion()
    {
        using var pool = new PacketPool(40);
        var batch = new PacketBatch();
        Assert.Equal(30, pool.RentBatch(ref batch, 30));
        Assert.Equal(2, pool.RentBatch(ref batch, 10));   // only 2 free slots
        Assert.True(batch.IsFull);
        batch.ReleaseAll();

        using var small = new PacketPool(3);
        var b2 = new PacketBatch();
        Assert.Equal(3, small.RentBatch(ref b2, 5));
        Assert.Equal(1, small.ExhaustedCount);
        b2.ReleaseAll();
    }
}

/// <summary>Per-thread caches (<see cref="PacketPool.EnableThreadCaches"/>): steady state off the shared ring, nothing lost.</summary>
public class PacketPoolThreadCacheTests
{
    /// <summary>Runs <paramref name="body"/> on a fresh thread (caches are per thread) and rethrows its failure.</summary>
    private static void OnThread(Action body)
    {
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try { body(); }
            catch (Exception ex) { failure = ex; }
        });
        t.Start();
        t.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException($"on the worker thread: {failure}");
    }

    private static void AssertEveryBufferOnceInTheRing(PacketPool pool)
    {
        Assert.Equal(pool.Capacity, pool.Available);
        var seen = new HashSet<int>();
        var all = new List<PacketBuffer>();
        while (pool.TryRent(out var b))
        {
            Assert.True(seen.Add(b.Index), $"buffer {b.Index} rented twice");
            all.Add(b);
        }
        Assert.Equal(pool.Capacity, seen.Count);
        foreach (var b in all) b.Release();
    }

    [Fact]
    public void SteadyStateRentReturn_StaysInTheThreadCache()
    {
        using var pool = new PacketPool(1024);
        Assert.True(pool.UsesThreadCaches);
        OnThread(() =>
        {
            using var caches = PacketPool.EnableThreadCaches();
            Assert.True(PacketPoolThreadCaches.EnabledOnCurrentThread);
            var held = new List<PacketBuffer>();
            for (int i = 0; i < 8; i++) { Assert.True(pool.TryRent(out var b)); held.Add(b); }
            int ring = pool.Available;
            Assert.Equal(1024 - PacketPool.ThreadCacheBulk, ring); // one bulk refill served all eight
            for (int round = 0; round < 10_000; round++)
            {
                foreach (var b in held) b.Release();
                held.Clear();
                for (int i = 0; i < 8; i++) { Assert.True(pool.TryRent(out var b)); held.Add(b); }
            }
            Assert.Equal(ring, pool.Available); // 160,000 operations, no shared-ring traffic
            foreach (var b in held) b.Release();
            Assert.Equal(PacketPool.ThreadCacheBulk, caches.Count);
            caches.Dispose();
            Assert.False(PacketPoolThreadCaches.EnabledOnCurrentThread);
            Assert.Equal(1024, pool.Available);
        });
        Assert.Equal(0, pool.ExhaustedCount);
        AssertEveryBufferOnceInTheRing(pool);
    }

    [Fact]
    public void RentedBuffersComeResetAndACacheSpillsHalfWhenFull()
    {
        using var pool = new PacketPool(1024);
        OnThread(() =>
        {
            using var caches = PacketPool.EnableThreadCaches();
            var held = new List<PacketBuffer>();
            for (int i = 0; i < 200; i++) { Assert.True(pool.TryRent(out var b)); b.TrySetFrame(new byte[60]); b.Metadata.InPort = 3; held.Add(b); }
            Assert.Equal(1024 - 200 - caches.Count, pool.Available); // bulk refills: the last one left a few cached
            Assert.True(caches.Count < PacketPool.ThreadCacheBulk);
            foreach (var b in held) b.Release();
            Assert.True(caches.Count <= PacketPool.ThreadCacheCapacity);
            Assert.Equal(1024 - caches.Count, pool.Available); // the rest went back to the ring in bulk
            Assert.True(pool.TryRent(out var again));
            Assert.Equal(0, again.Length);
            Assert.Equal(0u, again.Metadata.InPort);
            Assert.Equal(PacketBuffer.DefaultHeadroom, again.Headroom);
            again.Release();
        });
        AssertEveryBufferOnceInTheRing(pool);
    }

    [Fact]
    public void BuffersReturnedOnAnotherThread_AreNeverLost()
    {
        using var pool = new PacketPool(1024);
        using var handoff = new System.Collections.Concurrent.BlockingCollection<PacketBuffer>(boundedCapacity: 256);
        const int total = 200_000;
        long producerFailures = 0;
        var consumer = new Thread(() =>
        {
            using var caches = PacketPool.EnableThreadCaches(); // returns go into the consumer's cache, spill in bulk
            foreach (var b in handoff.GetConsumingEnumerable()) b.Release();
        });
        consumer.Start();
        OnThread(() =>
        {
            using var caches = PacketPool.EnableThreadCaches(); // rents refill from the ring in bulk
            int sent = 0;
            while (sent < total)
            {
                if (pool.TryRent(out var b)) { handoff.Add(b); sent++; }
                else { producerFailures++; Thread.Yield(); }
            }
            handoff.CompleteAdding();
        });
        consumer.Join();
        Assert.Equal(producerFailures, pool.ExhaustedCount);
        AssertEveryBufferOnceInTheRing(pool);
    }

    [Fact]
    public void ConcurrentRentReturn_FromTwoCachingThreads_PreservesBufferCountAndExhaustionCount()
    {
        const int capacity = PacketPool.MinCapacityForThreadCaches;
        using var pool = new PacketPool(capacity);
        using var start = new Barrier(2);
        long failures = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        void Worker(int seed)
        {
            try
            {
                using var caches = PacketPool.EnableThreadCaches();
                var rng = new Random(seed);
                var held = new List<PacketBuffer>();
                start.SignalAndWait();
                for (int i = 0; i < 200_000; i++)
                {
                    if (held.Count < 300 && (held.Count == 0 || rng.Next(2) == 0))
                    {
                        if (pool.TryRent(out var b)) held.Add(b);
                        else Interlocked.Increment(ref failures);
                    }
                    else
                    {
                        int k = rng.Next(held.Count);
                        held[k].Release();
                        held[k] = held[^1];
                        held.RemoveAt(held.Count - 1);
                    }
                }
                foreach (var b in held) b.Release();
            }
            catch (Exception ex)
            {
                errors.Enqueue(ex);
            }
        }
        var t1 = new Thread(() => Worker(1));
        var t2 = new Thread(() => Worker(2));
        t1.Start(); t2.Start();
        t1.Join(); t2.Join();
        Assert.Empty(errors);
        Assert.Equal(Interlocked.Read(ref failures), pool.ExhaustedCount);
        AssertEveryBufferOnceInTheRing(pool);
    }

    [Fact]
    public void Exhaustion_IsCountedOncePerFailedRent_AndACacheCanHoldWhatAnotherThreadNeeds()
    {
        using var pool = new PacketPool(PacketPool.MinCapacityForThreadCaches);
        var all = new List<PacketBuffer>();
        OnThread(() =>
        {
            using var caches = PacketPool.EnableThreadCaches();
            while (pool.TryRent(out var b)) all.Add(b);
            Assert.Equal(pool.Capacity, all.Count); // the cache refills until the ring is empty
            Assert.Equal(1, pool.ExhaustedCount);
            Assert.False(pool.TryRent(out _));
            Assert.Equal(2, pool.ExhaustedCount);
            // Returned into this thread's cache: the ring stays empty for everybody else until the cache spills or flushes.
            for (int i = 0; i < 10; i++) all[i].Release();
            Assert.Equal(0, pool.Available);
            Assert.True(pool.TryRent(out var fromCache)); // but this thread gets them back without a failure
            Assert.Equal(2, pool.ExhaustedCount);
            fromCache.Release();
            caches.Flush();
            Assert.Equal(10, pool.Available);
        });
        Assert.False(PacketPoolThreadCaches.EnabledOnCurrentThread);
        for (int i = 10; i < all.Count; i++) all[i].Release(); // this thread has no cache: straight to the ring
        AssertEveryBufferOnceInTheRing(pool);
    }

    [Fact]
    public void SmallPoolsAreNotCached()
    {
        using var pool = new PacketPool(64);
        Assert.False(pool.UsesThreadCaches);
        OnThread(() =>
        {
            using var caches = PacketPool.EnableThreadCaches();
            Assert.True(pool.TryRent(out var b));
            Assert.Equal(63, pool.Available);
            b.Release();
            Assert.Equal(64, pool.Available);
            Assert.Equal(0, caches.Count);
        });
    }

    [Fact]
    public void ThreadThatEndsWithoutDisposing_GivesItsBuffersBackWhenItsCachesAreCollected()
    {
        using var pool = new PacketPool(1024);
        OnThread(() =>
        {
            PacketPool.EnableThreadCaches(); // deliberately never disposed
            for (int i = 0; i < 5; i++)
            {
                Assert.True(pool.TryRent(out var b));
                b.Release();
            }
            Assert.True(pool.Available < 1024);
        });
        long deadline = Environment.TickCount64 + 10_000;
        while (pool.Available < pool.Capacity && Environment.TickCount64 < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        AssertEveryBufferOnceInTheRing(pool);
    }

    [Fact]
    public void CachesBelongToTheirThread()
    {
        PacketPoolThreadCaches? caches = null;
        OnThread(() =>
        {
            caches = PacketPool.EnableThreadCaches();
            Assert.Throws<InvalidOperationException>(() => PacketPool.EnableThreadCaches());
        });
        Assert.Throws<InvalidOperationException>(() => caches!.Dispose());
        Assert.Throws<InvalidOperationException>(() => caches!.Flush());
    }
}
