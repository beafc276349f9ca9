"""Read Cordeau-format periodic VRP files (type 1) and their solution files.

The format (see ``../shared/benchmarks/pvrp/README.md``) is a stream of
blank-separated numbers: a header ``type m n t`` (``type`` 1 for the PVRP),
``t`` lines ``D Q`` (route duration limit, 0 for none, and capacity per day),
then ``n + 1`` node lines ``i x y d q f a p_1 … p_a`` (node 0 the depot). A
pattern ``p`` is an integer whose ``t``-digit binary expansion, read left to
right, marks days 1 … ``t``. Distances are unrounded Euclidean distances,
travel times equal distances, and the frequency is the number of days in a
pattern (``f`` is 0 for one customer of ``p11``, which still lists patterns).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gcrm._errors import InputError
from gcrm.periodic import PeriodicProblem, solve_periodic, violations

#: The type code of single-depot periodic VRP files.
PVRP_TYPE = 1


def is_pvrp_file(path: str | Path) -> bool:
    """Tell whether ``path`` starts like a Cordeau PVRP file (``1 m n t``).

    Parameters
    ----------
    path
        Any file.

    Returns
    -------
    bool
        ``True`` when the first non-blank line is four integers starting with 1.
    """
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    toks = line.split()
                    return len(toks) == 4 and all(t.isdigit() for t in toks) and toks[0] == "1"
    except OSError:
        return False
    return False


def pattern_days(code: int, horizon: int) -> tuple[int, ...]:
    """Decode a pattern integer into 0-based days (day ``k`` has bit ``2^(t-k)``).

    Parameters
    ----------
    code
        The pattern as written in the file.
    horizon
        Number of days ``t``.

    Returns
    -------
    tuple of int
        Sorted 0-based days.
    """
    return tuple(k for k in range(horizon) if code >> (horizon - 1 - k) & 1)


def read_pvrp(path: str | Path) -> PeriodicProblem:
    """Read a Cordeau PVRP file (type 1) into a :class:`PeriodicProblem`.

    Parameters
    ----------
    path
        The instance file (e.g. ``p01`` … ``p32``, ``pr01`` … ``pr10``).

    Returns
    -------
    PeriodicProblem
        Node 0 the depot; ``node_ids`` the numbers in the file.

    Raises
    ------
    InputError
        For a missing file, another type code (e.g. 8, the multi-depot
        variant), or malformed numbers, naming the file and the node.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"instance file not found: {p}"
        raise InputError(msg)
    toks = p.read_text(encoding="utf-8", errors="replace").split()
    try:
        vals = [float(t) for t in toks]
    except ValueError as exc:
        msg = f"{p}: not a Cordeau PVRP file ({exc})"
        raise InputError(msg) from exc
    if len(vals) < 4 or any(v != int(v) for v in vals[:4]):
        msg = f"{p}: expected a header 'type m n t'"
        raise InputError(msg)
    kind, m, n, t = (int(v) for v in vals[:4])
    if kind != PVRP_TYPE:
        msg = f"{p}: type {kind} is not a single-depot periodic VRP (type 1)"
        raise InputError(msg)
    if m <= 0 or n < 0 or t <= 0:
        msg = f"{p}: bad header {m} vehicles, {n} customers, {t} days"
        raise InputError(msg)
    pos = 4
    limits: list[float | None] = []
    caps: list[int] = []
    for day in range(t):
        if pos + 2 > len(vals):
            msg = f"{p}: file ends in the line of day {day + 1}"
            raise InputError(msg)
        dmax, cap = vals[pos : pos + 2]
        limits.append(float(dmax) if dmax > 0 else None)
        caps.append(int(cap))
        pos += 2
    ids: list[int] = []
    xy = np.zeros((n + 1, 2))
    service = np.zeros(n + 1)
    demand = np.zeros(n + 1, dtype=np.int64)
    patterns: list[tuple[tuple[int, ...], ...]] = []
    for i in range(n + 1):
        if pos + 7 > len(vals):
            msg = f"{p}: file ends before node {i}"
            raise InputError(msg)
        nid, x, y, d, q, f, a = vals[pos : pos + 7]
        a_int = int(a)
        codes = [int(v) for v in vals[pos + 7 : pos + 7 + a_int]]
        if len(codes) != a_int:
            msg = f"{p}: node {int(nid)}: {a_int} patterns announced, {len(codes)} found"
            raise InputError(msg)
        pos += 7 + a_int
        ids.append(int(nid))
        xy[i] = (x, y)
        service[i], demand[i] = d, int(q)
        pats = _patterns(codes, t, int(f), p, int(nid)) if i else ()
        patterns.append(pats)
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    return PeriodicProblem(
        name=p.name,
        distance=dist,
        duration=dist,
        demand=demand,
        service=service,
        patterns=tuple(patterns),
        num_vehicles=(m,) * t,
        capacity=tuple(caps),
        max_duration=tuple(limits),
        node_ids=tuple(ids),
        coords=xy,
    )


def _patterns(codes: list[int], t: int, f: int, p: Path, nid: int) -> tuple[tuple[int, ...], ...]:
    out: list[tuple[int, ...]] = []
    for code in codes:
        if not 0 < code < 2**t:
            msg = f"{p}: node {nid}: pattern {code} is not a set of days within {t} days"
            raise InputError(msg)
        days = pattern_days(code, t)
        if f > 0 and len(days) != f:
            msg = f"{p}: node {nid}: pattern {code} has {len(days)} days, frequency is {f}"
            raise InputError(msg)
        if days not in out:
            out.append(days)
    if not out:
        msg = f"{p}: node {nid} has no visit pattern"
        raise InputError(msg)
    return tuple(out)


def read_pvrp_solution(path: str | Path) -> tuple[float, list[list[list[int]]]]:
    """Read a Cordeau ``.res`` solution: the stated cost and routes per day.

    Parameters
    ----------
    path
        The file: first line the cost, then ``day vehicle duration load 0 v_1 … v_k 0``.

    Returns
    -------
    tuple
        ``(cost, days)`` with ``days[d]`` the routes (customer numbers) of day ``d + 1``.
    """
    lines = [ln.split() for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    cost = float(lines[0][0])
    by_day: dict[int, list[list[int]]] = {}
    for toks in lines[1:]:
        day = int(toks[0])
        visits = [int(v) for v in toks[4:] if int(v) != 0]
        by_day.setdefault(day, []).append(visits)
    horizon = max(by_day) if by_day else 0
    return cost, [by_day.get(d, []) for d in range(1, horizon + 1)]


def solve_pvrp_file(
    instance: str | Path,
    *,
    seconds: float,
    output: str | Path | None = None,
    seed: int = 0,
    iterations: int | None = None,
) -> dict[str, object]:
    """Run ``python -m gcrm solve PVRP_FILE --seconds S --output sol.json``.

    Parameters
    ----------
    instance
        A Cordeau PVRP file (type 1).
    seconds
        Wall-clock budget.
    output
        Where to write ``{"days": [[[customers], ...routes], ...days], "cost": ...}``.
    seed
        Random seed.
    iterations
        Optional iteration budget (with it, the same seed gives the same plan).

    Returns
    -------
    dict
        What was written: customer numbers as in the file, one list per route,
        one list of routes per day, and the total Euclidean distance.

    Raises
    ------
    InputError
        For an unreadable instance or a non-positive time limit.
    """
    if seconds <= 0:
        raise InputError("seconds must be positive")
    problem = read_pvrp(instance)
    sol = solve_periodic(problem, seed=seed, seconds=seconds, iterations=iterations)
    out = sol.to_dict(problem)
    if not sol.feasible:
        out["infeasible"] = violations(problem, [list(map(list, day)) for day in sol.days])[:20]
    if output is not None:
        Path(output).write_text(json.dumps(out), encoding="utf-8")
    return out
