using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Vswitch.Packets;

/// <summary>
/// The per-thread buffer caches of one thread (see <see cref="PacketPool.EnableThreadCaches"/>): while enabled,
/// <see cref="PacketPool.TryRent"/> and <see cref="PacketPool.Return"/> on this thread go to a small cache per pool
/// (DPDK's per-lcore mempool cache, OVS's per-PMD batches) and reach the pool's shared ring only in bulk.
/// </summary>
/// <remarks>
/// Owned by the thread that enabled it; <see cref="Dispose"/> must run on that thread and returns every cached
/// buffer to its pool. If the thread ends without disposing, the caches are flushed when the garbage collector
/// finalizes them, so no buffer is lost for good. At most <see cref="MaxPools"/> pools are cached per thread;
/// further pools use their shared ring directly.
/// </remarks>
public sealed class PacketPoolThreadCaches : IDisposable
{
    /// <summary>Pools one thread caches at most.</summary>
    public const int MaxPools = 4;

    [ThreadStatic]
    private static PacketPoolThreadCaches? t_current;

    private readonly Thread _owner;
    private readonly Cache?[] _caches = new Cache?[MaxPools];
    private Cache? _last;
    private int _count;
    private int _disposed;

    private PacketPoolThreadCaches(Thread owner) => _owner = owner;

    /// <summary>Destructor: the thread ended without <see cref="Dispose"/>; give the cached buffers back.</summary>
    ~PacketPoolThreadCaches() => FlushAll();

    internal static PacketPoolThreadCaches Enable()
    {
        if (t_current is not null) throw new InvalidOperationException("packet pool caches are already enabled on this thread");
        var caches = new PacketPoolThreadCaches(Thread.CurrentThread);
        t_current = caches;
        return caches;
    }

    /// <summary>True when the calling thread has caches enabled.</summary>
    public static bool EnabledOnCurrentThread => t_current is not null;

    /// <summary>Buffers this thread's caches hold right now (all pools).</summary>
    public int Count
    {
        get
        {
            int n = 0;
            for (int i = 0; i < _count; i++) n += _caches[i]!.Count;
            return n;
        }
    }

    /// <summary>The calling thread's cache for <paramref name="pool"/>, or null (no caches enabled, or the pool is not cached).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Cache? For(PacketPool pool)
    {
        var caches = t_current;
        if (caches is null) return null;
        var last = caches._last;
        return last is not null && ReferenceEquals(last.Pool, pool) ? last : caches.ForSlow(pool);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Cache? ForSlow(PacketPool pool)
    {
        for (int i = 0; i < _count; i++)
        {
            if (ReferenceEquals(_caches[i]!.Pool, pool))
            {
                _last = _caches[i];
                return _last;
            }
        }
        if (!pool.UsesThreadCaches || _count == MaxPools || pool.IsDisposed) return null;
        var cache = new Cache(pool);
        _caches[_count++] = cache;
        _last = cache;
        return cache;
    }

    /// <summary>Returns every cached buffer of this thread to its pool and keeps caching (e.g. before a thread parks for long).</summary>
    /// <exception cref="InvalidOperationException">Called on another thread than the owner.</exception>
    public void Flush()
    {
        CheckOwner();
        FlushAll();
    }

    /// <summary>Returns every cached buffer to its pool and stops caching on this thread (idempotent).</summary>
    /// <exception cref="InvalidOperationException">Called on another thread than the owner.</exception>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        CheckOwner();
        FlushAll();
        Volatile.Write(ref _disposed, 1);
        if (ReferenceEquals(t_current, this)) t_current = null;
        GC.SuppressFinalize(this);
    }

    private void CheckOwner()
    {
        if (Thread.CurrentThread != _owner) throw new InvalidOperationException("packet pool caches belong to the thread that enabled them");
    }

    private void FlushAll()
    {
        for (int i = 0; i < _count; i++) _caches[i]!.FlushAll();
    }

    /// <summary>One thread's cache of one pool: a stack of buffers, moved to and from the pool's ring in bulk.</summary>
    internal sealed class Cache(PacketPool pool)
    {
        private readonly PacketBuffer?[] _items = new PacketBuffer?[PacketPool.ThreadCacheCapacity];
        private int _count;

        public PacketPool Pool { get; } = pool;

        public int Count => Volatile.Read(ref _count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool TryRent([NotNullWhen(true)] out PacketBuffer? buffer)
        {
            int n = _count;
            if (n == 0)
            {
                n = Refill();
                if (n == 0)
                {
                    Pool.CountExhausted();
                    buffer = null;
                    return false;
                }
            }
            buffer = _items[--n]!;
            _count = n;
            buffer.ResetForReceive();
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Return(PacketBuffer buffer)
        {
            int n = _count;
            if (n == _items.Length) n = Spill();
            _items[n] = buffer;
            _count = n + 1;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private int Refill()
        {
            int n = Pool.DequeueBulk(_items.AsSpan(0, PacketPool.ThreadCacheBulk));
            _count = n;
            return n;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private int Spill()
        {
            // Hand the older half back, keep the most recently returned (cache-warm) half.
            int keep = _items.Length - PacketPool.ThreadCacheBulk;
            Pool.EnqueueBulk(_items.AsSpan(0, PacketPool.ThreadCacheBulk));
            Array.Copy(_items, PacketPool.ThreadCacheBulk, _items, 0, keep);
            _count = keep;
            return keep;
        }

        public void FlushAll()
        {
            int n = _count;
            if (n == 0) return;
            Pool.EnqueueBulk(_items.AsSpan(0, n));
            _count = 0;
        }
    }
}
