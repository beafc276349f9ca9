"""Iterated 2-opt / Or-opt local search for a single closed tour (benchmarks only).

PyVRP has no intra-route 2-opt; :func:`gcrm.bench.solve.solve_instance`
improves PyVRP's TSP tours with :func:`improve_tour`: 2-opt and Or-opt moves
over neighbour lists, and segment double-bridge kicks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence

import numpy as np


def improve_tour(
    dist: np.ndarray,
    tour: Sequence[int],
    *,
    seconds: float,
    seed: int = 0,
    neighbours: int = 10,
    max_iterations: int | None = None,
) -> list[int]:
    """Improve a closed tour by iterated local search (2-opt and Or-opt).

    Parameters
    ----------
    dist
        Symmetric ``n x n`` distances.
    tour
        A permutation of ``0..n-1``.
    seconds
        Time limit.
    seed
        Random seed for the kicks.
    neighbours
        Size of each city's candidate list.
    max_iterations
        Stop after this many kicks (deterministic runs).

    Returns
    -------
    list of int
        The best tour found (never longer than the input).
    """
    return _TourSearch(dist, tour, neighbours, seed).run(seconds, max_iterations)


class _TourSearch:
    """2-opt + Or-opt local search with neighbour lists, and double-bridge kicks."""

    def __init__(self, dist: np.ndarray, tour: Sequence[int], k: int, seed: int) -> None:
        n = len(tour)
        self.n = n
        self.D: list[list[float]] = np.asarray(dist, dtype=float).tolist()
        srt = np.argsort(dist, axis=1, kind="stable")[:, : k + 1]
        self.near = [[int(c) for c in row if c != a][:k] for a, row in enumerate(srt)]
        self.t = list(tour)
        self.pos = [0] * n
        for i, c in enumerate(self.t):
            self.pos[c] = i
        self.rng = random.Random(seed)

    def length(self) -> float:
        D, t = self.D, self.t
        return sum(D[t[k - 1]][t[k]] for k in range(self.n))

    def _reverse(self, i: int, j: int) -> None:
        """Reverse tour positions ``i..j`` (``i <= j``), or the complement."""
        n, t, pos = self.n, self.t, self.pos
        if (j - i + 1) * 2 > n:
            a, b = j + 1, i - 1 + n
            for k in range((b - a + 1) // 2):
                p, q = (a + k) % n, (b - k) % n
                cp, cq = t[p], t[q]
                t[p], t[q] = cq, cp
                pos[cq], pos[cp] = p, q
        else:
            seg = t[i : j + 1]
            seg.reverse()
            t[i : j + 1] = seg
            for k in range(i, j + 1):
                pos[t[k]] = k

    def _reverse_circ(self, i: int, j: int) -> None:
        if i <= j:
            self._reverse(i, j)
        else:
            self._reverse(j + 1, i - 1)

    def _two_opt(self, a: int) -> tuple[int, ...] | None:
        D, t, pos, n = self.D, self.t, self.pos, self.n
        i = pos[a]
        for step in (1, -1):
            b = t[(i + step) % n]
            dab = D[a][b]
            for c in self.near[a]:
                g1 = dab - D[a][c]
                if g1 <= 0:
                    break
                j = pos[c]
                d = t[(j + step) % n]
                if c == b or d == a:
                    continue
                if g1 + D[c][d] - D[b][d] > 1e-9:
                    if step == 1:
                        self._reverse_circ((i + 1) % n, j)
                    else:
                        self._reverse_circ(i, (j - 1) % n)
                    return (a, b, c, d)
        return None

    def _or_opt(self, a: int) -> tuple[int, ...] | None:
        D, t, pos, n = self.D, self.t, self.pos, self.n
        for seg_len in (1, 2, 3):
            if seg_len >= n - 2:
                break
            i = pos[a]
            e = t[(i + seg_len - 1) % n]
            p = t[(i - 1) % n]
            nx_ = t[(i + seg_len) % n]
            gain = D[p][a] + D[e][nx_] - D[p][nx_]
            if gain <= 1e-9:
                continue
            seg = [t[(i + k) % n] for k in range(seg_len)]
            for end, other in ((a, e), (e, a)):
                for c in self.near[end]:
                    if D[end][c] >= gain:
                        break
                    if c in seg:
                        continue
                    jc = pos[c]
                    for c2 in (t[(jc + 1) % n], t[(jc - 1) % n]):
                        if c2 in seg:
                            continue
                        if gain - D[c][end] - D[other][c2] + D[c][c2] > 1e-9:
                            self._move(i, seg_len, c, c2, end == a)
                            return (*seg, p, nx_, c, c2)
        return None

    def _move(self, i: int, seg_len: int, c: int, c2: int, a_next_to_c: bool) -> None:
        n, t = self.n, self.t
        seg = [t[(i + k) % n] for k in range(seg_len)]
        start = (i + seg_len) % n
        rest = [t[(start + k) % n] for k in range(n - seg_len)]
        kc = rest.index(c)
        if rest[(kc + 1) % len(rest)] == c2:
            ins = seg if a_next_to_c else seg[::-1]
            new = rest[: kc + 1] + ins + rest[kc + 1 :]
        else:
            ins = seg[::-1] if a_next_to_c else seg
            new = rest[:kc] + ins + rest[kc:]
        t[:] = new
        for k, cc in enumerate(t):
            self.pos[cc] = k

    def _local_search(self, active: Iterable[int]) -> None:
        queue = list(active)
        inq = set(queue)
        while queue:
            a = queue.pop()
            inq.discard(a)
            moved = self._two_opt(a) or self._or_opt(a)
            if moved is not None:
                for x in (*moved, a):
                    if x not in inq:
                        inq.add(x)
                        queue.append(x)

    def _kick(self) -> list[int]:
        """Segment double bridge: swap two adjacent sub-segments of a window."""
        n, t, pos, rng = self.n, self.t, self.pos, self.rng
        span = min(n - 1, 50)
        i0 = rng.randrange(n)
        c1, c2, c3 = sorted(rng.sample(range(1, span), 3))
        idx = [(i0 + k) % n for k in range(c3 + 1)]
        cities = [t[x] for x in idx[:c3]]
        new = cities[:c1] + cities[c2:c3] + cities[c1:c2]
        for x, c in zip(idx[:c3], new, strict=True):
            t[x] = c
            pos[c] = x
        return [
            t[idx[0]],
            t[idx[c1]],
            t[idx[c2]],
            t[idx[c3 - 1]],
            t[idx[c3]],
            t[(i0 - 1) % n],
            t[idx[c1 - 1]],
            t[idx[c2 - 1]],
        ]

    def run(self, seconds: float, max_iterations: int | None) -> list[int]:
        n = self.n
        if n < 8:
            self._local_search(range(n))
            return list(self.t)
        start_len = self.length()
        start_tour = list(self.t)
        self._local_search(range(n))
        cur = self.length()
        best, best_t = cur, list(self.t)
        deadline = time.perf_counter() + seconds
        it = 0
        while time.perf_counter() < deadline and (max_iterations is None or it < max_iterations):
            it += 1
            saved = list(self.t)
            self._local_search(self._kick())
            new = self.length()
            if new <= cur + 1e-9:
                cur = new
                if new < best - 1e-9:
                    best, best_t = new, list(self.t)
            else:
                self.t[:] = saved
                for k, c in enumerate(self.t):
                    self.pos[c] = k
        return best_t if best <= start_len else start_tour
