"""The builder's assignment: capacitated MILP, contiguity repair and local search."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gcrm.territories._units import MIN_SHARED_EDGE_M

_CUT_WEIGHT = 3.0  # weight of border length against drive cost in the local search


def solve_assignment(
    cost: np.ndarray,
    load: np.ndarray,
    seeds: list[int],
    tolerance: float,
    variable_load: bool,
    time_limit_s: float,
) -> np.ndarray | None:
    """Capacitated assignment (MILP): labels of the units, ``None`` when it fails."""
    # scipy.optimize costs about 0.3 CPU-s to import: only a territory build needs it
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array, csr_array, hstack

    k, s = cost.shape
    nx_ = k * s
    scale = float(cost.max()) or 1.0
    c = np.r_[cost.ravel() / scale, 0.0]
    # each unit in exactly one territory
    rows = np.tile(np.arange(s), k)
    one = coo_array((np.ones(nx_), (rows, np.arange(nx_))), shape=(s, nx_ + 1))
    # territory loads
    t_rows = np.repeat(np.arange(k), s)
    loads = coo_array((load.ravel(), (t_rows, np.arange(nx_))), shape=(k, nx_))
    lo = np.zeros(nx_ + 1)
    hi = np.ones(nx_ + 1)
    for t, u in enumerate(seeds):
        lo[t * s + u] = 1.0
    integrality = np.r_[np.ones(nx_), 0.0]
    if variable_load:
        # mean load A is a variable: (1 - tol) A <= load_t <= (1 + tol) A, sum load_t = K A
        hi[-1] = np.inf
        a_col = np.ones((k, 1))
        upper = hstack([loads, csr_array(-(1 + tolerance) * a_col)])
        lower = hstack([loads, csr_array(-(1 - tolerance) * a_col)])
        total = hstack(
            [csr_array(np.ones((1, k))) @ loads.tocsr(), csr_array(np.array([[-float(k)]]))]
        )
        constraints = [
            LinearConstraint(one, 1, 1),
            LinearConstraint(upper, -np.inf, 0),
            LinearConstraint(lower, 0, np.inf),
            LinearConstraint(total, 0, 0),
        ]
    else:
        mean = float(load[0].sum()) / k
        a = hstack([loads, csr_array(np.zeros((k, 1)))])
        constraints = [
            LinearConstraint(one, 1, 1),
            LinearConstraint(a, (1 - tolerance) * mean, (1 + tolerance) * mean),
        ]
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(lo, hi),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 1e-3, "disp": False},
    )
    if res.x is None:
        return None
    x = res.x[:nx_].reshape(k, s)
    return np.asarray(np.argmax(x, axis=0), dtype=np.int64)


def components(members: set[int], neighbours: Any) -> list[set[int]]:
    """Return the connected parts of ``members`` (``neighbours[u]``: ``u``'s neighbours)."""
    left = set(members)
    out = []
    while left:
        start = left.pop()
        comp = {start}
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in neighbours[u]:
                if v in left:
                    left.remove(v)
                    comp.add(v)
                    queue.append(v)
        out.append(comp)
    return out


def repair(
    labels: np.ndarray, neighbours: list[dict[int, float]], seeds: list[int], cost: np.ndarray
) -> np.ndarray:
    """Hand units cut off from their territory's seed to an adjacent territory."""
    labels = labels.copy()
    k = cost.shape[0]
    for t in range(k):
        for comp in components(set(np.flatnonzero(labels == t).tolist()), neighbours):
            if seeds[t] not in comp:
                labels[list(comp)] = -1
    while (labels < 0).any():
        best: tuple[float, int, int] | None = None
        for u in np.flatnonzero(labels < 0).tolist():
            for t in {int(labels[v]) for v in neighbours[u] if labels[v] >= 0}:
                cand = (float(cost[t, u]), u, t)
                if best is None or cand < best:
                    best = cand
        if best is None:  # cut off from every seed (a region in pieces): nearest territory
            for u in np.flatnonzero(labels < 0).tolist():
                labels[u] = int(np.argmin(cost[:, u]))
            break
        labels[best[1]] = best[2]
    return labels


class Search:
    """Local search: boundary moves between adjacent territories.

    A move hands one unit to an adjacent territory. No move empties a seed or
    cuts a territory in two. The search first shrinks the spread of loads
    until the max/min target is met, then lowers ``J = cost / C0 + 3 cut / P0``
    (``cost``: the assignment's load x drive time squared; ``cut``: length of
    border between territories, which keeps them compact; ``C0``, ``P0``: their
    starting values) without leaving the balance target.
    """

    def __init__(
        self,
        labels: np.ndarray,
        neighbours: list[dict[int, float]],
        seeds: list[int],
        cost: np.ndarray,
        load: np.ndarray,
    ) -> None:
        self.labels = labels.copy()
        self.neighbours = neighbours
        self.seeds = set(seeds)
        self.cost = cost
        self.load = load
        self.k = cost.shape[0]
        self.totals = np.array([load[t, self.labels == t].sum() for t in range(self.k)])
        units = np.arange(len(labels))
        c0 = float(cost[self.labels, units].sum())
        p0 = sum(
            length
            for u, nb in enumerate(neighbours)
            for v, length in nb.items()
            if u < v and self.labels[u] != self.labels[v]
        )
        self.w_cost = 1.0 / c0 if c0 > 0 else 0.0
        self.w_cut = _CUT_WEIGHT / p0 if p0 > 0 else 0.0

    def ratio(self, totals: np.ndarray | None = None) -> float:
        t = self.totals if totals is None else totals
        return float(t.max() / t.min()) if t.min() > 0 else math.inf

    def delta_j(self, u: int, a: int, b: int) -> float:
        """Change of the compactness objective when ``u`` goes from ``a`` to ``b``."""
        to_a = to_b = 0.0
        for v, length in self.neighbours[u].items():
            if self.labels[v] == a:
                to_a += length
            elif self.labels[v] == b:
                to_b += length
        d_cost = float(self.cost[b, u] - self.cost[a, u])
        return self.w_cost * d_cost + self.w_cut * (to_a - to_b)

    def can_leave(self, u: int, a: int) -> bool:
        """Whether territory ``a`` stays connected (and non-empty) without ``u``."""
        if u in self.seeds:
            return False
        same = [v for v in self.neighbours[u] if self.labels[v] == a]
        if not same:
            return False
        ring = set(same)
        # Sufficient: the neighbours in ``a`` are connected among themselves.
        local = {v: [w for w in self.neighbours[v] if w in ring] for v in ring}
        if len(components(ring, local)) == 1:
            return True
        seen = {same[0]}
        queue = deque([same[0]])
        while queue and not ring <= seen:
            x = queue.popleft()
            for y in self.neighbours[x]:
                if y != u and y not in seen and self.labels[y] == a:
                    seen.add(y)
                    queue.append(y)
        return ring <= seen

    def moves(self) -> Iterable[tuple[int, int, int]]:
        for u in range(len(self.labels)):
            a = int(self.labels[u])
            if u in self.seeds:
                continue
            for b in {int(self.labels[v]) for v in self.neighbours[u]} - {a}:
                yield u, a, b

    def _after(self, u: int, a: int, b: int) -> np.ndarray:
        new = self.totals.copy()
        new[a] -= self.load[a, u]
        new[b] += self.load[b, u]
        return new

    def apply(self, u: int, a: int, b: int) -> None:
        self.labels[u] = b
        self.totals = self._after(u, a, b)

    def balance(self, target: float, max_moves: int) -> None:
        """Move units while the spread of loads shrinks, until ``target`` is met."""
        for _ in range(max_moves):
            if self.ratio() <= target:
                return
            spread = float(self.totals.max() - self.totals.min())
            candidates = []
            for u, a, b in self.moves():
                new = self._after(u, a, b)
                new_spread = float(new.max() - new.min())
                if new_spread < spread - 1e-9:
                    candidates.append((new_spread, self.delta_j(u, a, b), u, a, b))
            for cand in sorted(candidates):
                if self.can_leave(cand[2], cand[3]):
                    self.apply(*cand[2:])
                    break
            else:
                return

    def compact(self, target: float, max_sweeps: int) -> None:
        """Lower the objective while the load ratio stays within ``target``."""
        limit = max(target, self.ratio())
        for _ in range(max_sweeps):
            moved = False
            for u, a, b in list(self.moves()):
                if self.labels[u] != a:
                    continue
                if self.delta_j(u, a, b) >= -1e-12:
                    continue
                if self.ratio(self._after(u, a, b)) > limit or not self.can_leave(u, a):
                    continue
                self.apply(u, a, b)
                moved = True
            if not moved:
                return


def attach_orphans(
    orphans: list[BaseGeometry], cells: np.ndarray, labels: np.ndarray, k: int
) -> list[list[BaseGeometry]]:
    """Give each stray piece of a clipped cell to the territory it shares most border with."""
    extra: list[list[BaseGeometry]] = [[] for _ in range(k)]
    pending = list(orphans)
    pieces = [list(cells[labels == t]) for t in range(k)]
    for _ in range(len(pending) + 1):
        if not pending:
            break
        still = []
        for piece in pending:
            shared = [
                sum(shapely.length(shapely.intersection(piece, q)) for q in pieces[t])
                for t in range(k)
            ]
            t = int(np.argmax(shared))
            if shared[t] > MIN_SHARED_EDGE_M:
                extra[t].append(piece)
                pieces[t].append(piece)
            else:
                still.append(piece)
        if len(still) == len(pending):
            for piece in still:  # an island: the territory whose cells are nearest
                t = int(np.argmin([min(piece.distance(q) for q in pieces[t]) for t in range(k)]))
                extra[t].append(piece)
            break
        pending = still
    return extra
