"""A bounded, thread-safe least-recently-used cache shared by a server process's sessions.

The map payloads (:mod:`gcrm.maps.payload`) and the aggregate results
(:mod:`gcrm.db.agg_cache`) are kept per process and read by every session's
thread: one rule for both, here. A cache is bounded by its number of entries
and, optionally, by the total size of its values (``size_of``); when either
bound is passed, the least recently used entries go first. Hits, misses and
evictions are counted for benchmarks and tests.

This module imports nothing of gcrm, so any layer may use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """A least-recently-used mapping bounded by entries and optionally by total size.

    Parameters
    ----------
    max_entries
        Most entries kept (0: nothing is kept, every look is a miss).
    max_size
        Most total size kept, as measured by ``size_of`` (``None``: no size bound).
    size_of
        Size of one value (required with ``max_size``).

    Examples
    --------
    >>> cache = BoundedLRU[str, int](max_entries=2)
    >>> cache.put("a", 1); cache.put("b", 2); cache.get("a"); cache.put("c", 3)
    1
    >>> cache.get("b") is None, cache.stats()["evictions"]
    (True, 1)
    """

    def __init__(
        self,
        *,
        max_entries: int,
        max_size: int | None = None,
        size_of: Callable[[V], int] | None = None,
    ) -> None:
        if max_entries < 0:
            msg = f"max_entries must be 0 or more, got {max_entries}"
            raise ValueError(msg)
        if (max_size is None) != (size_of is None):
            msg = "max_size and size_of go together: give both or neither"
            raise ValueError(msg)
        self.max_entries = max_entries
        self.max_size = max_size
        self._size_of = size_of
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._size = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def get(self, key: K) -> V | None:
        """Return the value kept for ``key`` (now the most recently used), or ``None``.

        A found value counts as a hit, a missing one as a miss.
        """
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key`` (replacing any), then evict until within the bounds.

        A value larger than ``max_size`` by itself evicts everything, itself included:
        callers that expect such values should not put them.
        """
        size = self._size_of(value) if self._size_of is not None else 0
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None and self._size_of is not None:
                self._size -= self._size_of(old)
            self._items[key] = value
            self._size += size
            self._evict()

    def resize(self, *, max_entries: int, max_size: int | None = None) -> None:
        """Change the bounds (a module's budget read at call time), evicting to fit.

        Parameters
        ----------
        max_entries
            Most entries kept (0: nothing is kept, every look is a miss).
        max_size
            Most total size kept (only for a cache with ``size_of``).
        """
        if max_entries < 0:
            msg = f"max_entries must be 0 or more, got {max_entries}"
            raise ValueError(msg)
        if max_size is not None and self._size_of is None:
            msg = "max_size needs size_of: this cache does not measure its values"
            raise ValueError(msg)
        with self._lock:
            self.max_entries, self.max_size = max_entries, max_size
            self._evict()

    def _evict(self) -> None:
        # Called with the lock held: drop the least recently used until within the bounds.
        while self._items and (
            len(self._items) > self.max_entries
            or (self.max_size is not None and self._size > self.max_size)
        ):
            _, gone = self._items.popitem(last=False)
            if self._size_of is not None:
                self._size -= self._size_of(gone)
            self._evictions += 1

    def __len__(self) -> int:
        """Return the number of entries kept."""
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is kept (neither a hit nor a miss, order unchanged)."""
        with self._lock:
            return key in self._items

    def stats(self) -> dict[str, int]:
        """Hits, misses, evictions, entries and total size (0 without ``size_of``)."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "evictions": self._evictions,
                "entries": len(self._items),
                "size": self._size,
            }

    def clear(self) -> None:
        """Forget every entry and reset the counters."""
        with self._lock:
            self._items.clear()
            self._size = 0
            self._hits = self._misses = self._evictions = 0
