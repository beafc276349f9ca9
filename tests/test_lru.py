"""The one bounded LRU cache class: bounds, order, counters, threads."""

from __future__ import annotations

import threading

import pytest

from gcrm.lru import BoundedLRU


def test_entry_bound_evicts_least_recently_used() -> None:
    """Past max_entries the entry used longest ago goes; a get makes an entry recent."""
    cache: BoundedLRU[str, int] = BoundedLRU(max_entries=3)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    assert cache.get("a") == 0  # a is now the most recent: b is the oldest
    cache.put("d", 3)
    assert "b" not in cache
    assert [k for k in "acd" if k in cache] == ["a", "c", "d"]
    assert len(cache) == 3
    cache.put("e", 4)  # c is now the oldest
    assert "c" not in cache
    assert cache.stats()["evictions"] == 2


def test_size_bound_evicts_until_within() -> None:
    """Total size stays within max_size; several old entries go for one large new one."""
    cache: BoundedLRU[str, str] = BoundedLRU(max_entries=100, max_size=10, size_of=len)
    for key in "abcde":
        cache.put(key, key * 2)  # 5 x 2 = 10: exactly at the bound
    assert cache.stats()["size"] == 10
    assert len(cache) == 5
    cache.put("f", "f" * 5)  # needs 5 more: a, b, c go (oldest first)
    stats = cache.stats()
    assert stats["size"] == 9
    assert stats["evictions"] == 3
    assert ["a" in cache, "b" in cache, "c" in cache, "d" in cache, "f" in cache] == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_replacing_a_key_keeps_size_right() -> None:
    """Putting a key again replaces its value and its size, no eviction."""
    cache: BoundedLRU[str, str] = BoundedLRU(max_entries=2, max_size=100, size_of=len)
    cache.put("a", "x" * 40)
    cache.put("b", "y")
    cache.put("a", "z" * 10)
    assert cache.stats() == {"hits": 0, "misses": 0, "evictions": 0, "entries": 2, "size": 11}
    assert cache.get("a") == "z" * 10
    cache.put("c", "w")  # a was used last: b goes
    assert "b" not in cache
    assert "a" in cache


def test_resize_evicts_to_fit_the_new_bounds() -> None:
    """Smaller bounds evict the least recently used at once; bigger ones keep all."""
    cache: BoundedLRU[str, str] = BoundedLRU(max_entries=5, max_size=100, size_of=len)
    for key in "abcd":
        cache.put(key, key * 10)
    cache.get("a")
    cache.resize(max_entries=3, max_size=100)  # b (least recent) goes
    assert [k in cache for k in "abcd"] == [True, False, True, True]
    cache.resize(max_entries=3, max_size=15)  # only the most recent fits: a
    assert [k in cache for k in "abcd"] == [True, False, False, False]
    assert cache.stats()["size"] == 10 and cache.stats()["evictions"] == 3
    with pytest.raises(ValueError, match="size_of"):
        BoundedLRU[str, str](max_entries=2).resize(max_entries=2, max_size=5)


def test_counters_and_clear() -> None:
    """Hits and misses are counted per get; clear forgets entries and counters."""
    cache: BoundedLRU[int, list[int]] = BoundedLRU(max_entries=4)
    assert cache.get(1) is None
    cache.put(1, [])
    assert cache.get(1) == []  # an empty (falsy) value is a hit, not a miss
    assert cache.get(1) == []
    assert cache.get(2) is None
    assert cache.stats() == {"hits": 2, "misses": 2, "evictions": 0, "entries": 1, "size": 0}
    cache.clear()
    assert cache.stats() == {"hits": 0, "misses": 0, "evictions": 0, "entries": 0, "size": 0}
    assert cache.get(1) is None


def test_bad_bounds_are_refused() -> None:
    """Negative room, or a size bound without a way to measure, is refused; no room keeps
    nothing."""
    with pytest.raises(ValueError, match="max_entries"):
        BoundedLRU(max_entries=-1)
    nothing: BoundedLRU[str, int] = BoundedLRU(max_entries=0)  # a cache turned off
    nothing.put("a", 1)
    assert nothing.get("a") is None and len(nothing) == 0
    with pytest.raises(ValueError, match="size_of"):
        BoundedLRU(max_entries=2, max_size=10)


def test_concurrent_use_keeps_bounds_and_counts() -> None:
    """Threads putting and getting at once never pass the bounds nor lose a count."""
    cache: BoundedLRU[tuple[int, int], str] = BoundedLRU(max_entries=50, max_size=400, size_of=len)
    threads, rounds = 8, 2000
    seen_over: list[dict[str, int]] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for i in range(rounds):
            key = (t % 3, i % 80)
            if cache.get(key) is None:
                cache.put(key, "v" * (1 + i % 13))
            if i % 97 == 0:
                stats = cache.stats()
                if stats["entries"] > 50 or stats["size"] > 400:
                    seen_over.append(stats)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    stats = cache.stats()
    assert not seen_over
    assert stats["hits"] + stats["misses"] == threads * rounds
    assert stats["entries"] <= 50
    assert stats["size"] <= 400
    # The size counter matches what is really kept.
    kept = [cache.get((a, b)) for a in range(3) for b in range(80)]
    assert sum(len(v) for v in kept if v is not None) == cache.stats()["size"]
    assert stats["evictions"] > 0
