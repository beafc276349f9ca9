"""Readers of routing benchmark instances and their cost functions.

Three formats are read into one :class:`Instance`:

- TSPLIB ``.tsp`` files with ``EDGE_WEIGHT_TYPE: EUC_2D`` or ``CEIL_2D`` (a single tour
  through every city; no depot);
- Solomon ``.txt`` VRPTW files (depot ``0``, customers ``1..100``);
- VRPLIB files (``.vrp``: CVRP, VRPTW and TSP written in VRPLIB form, EUC_2D
  or an explicit full matrix; the depot is the ``DEPOT_SECTION`` node).

Each format comes with its own rounding convention for distances, which
defines both the instance's cost and (where there are time windows) its
feasibility; :attr:`Instance.rounding` names it:

``"nint"``
    TSPLIB's ``nint(sqrt(dx² + dy²))`` (round half up to an integer): TSPLIB and
    VRPLIB TSP/CVRP files.
``"ceil"``
    Rounded up to an integer: TSPLIB's ``CEIL_2D`` (e.g. ``dsj1000``).
``"exact"``
    The double-precision Euclidean distance: Solomon files, as the published
    best-known solutions use.
``"dimacs"``
    Truncated to one decimal (``floor(10 d) / 10``), the convention of the
    DIMACS challenge under which the Gehring-Homberger VRPTW best-known
    solutions in VRPLIB form are stated.

Travel times equal distances for the time-window instances.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.distance import cdist

from gcrm._errors import InputError

#: Distance conventions (see the module docstring).
ROUNDINGS: tuple[str, ...] = ("nint", "ceil", "exact", "dimacs")

_FEAS_EPS = 1e-6  # slack for float schedules under the "exact" convention


@dataclass(frozen=True, eq=False)
class Instance:
    """A routing benchmark instance.

    Attributes
    ----------
    name
        Instance name (``NAME`` field or file stem).
    kind
        ``"tsp"``, ``"cvrp"`` or ``"vrptw"``.
    fmt
        Source format: ``"tsplib"``, ``"solomon"`` or ``"vrplib"``.
    node_ids
        Node numbers as written in the file; position 0 is the depot (for a
        TSP: the first city).
    coords
        ``(n, 2)`` coordinates (may be empty when ``matrix`` is given).
    rounding
        Distance convention, one of :data:`ROUNDINGS`.
    demands
        Demand per node (depot 0), for CVRP and VRPTW.
    capacity
        Vehicle capacity.
    num_vehicles
        Vehicles available (``None``: unlimited).
    ready, due, service
        Time windows and service times per node (depot at 0), for VRPTW.
    matrix
        Explicit distance matrix, when the file gives one.
    """

    name: str
    kind: str
    fmt: str
    node_ids: tuple[int, ...]
    coords: np.ndarray
    rounding: str
    demands: np.ndarray | None = None
    capacity: int | None = None
    num_vehicles: int | None = None
    ready: np.ndarray | None = None
    due: np.ndarray | None = None
    service: np.ndarray | None = None
    matrix: np.ndarray | None = field(default=None, repr=False)

    @property
    def dimension(self) -> int:
        """Number of nodes, depot included."""
        return len(self.node_ids)

    @property
    def has_time_windows(self) -> bool:
        """Whether nodes have time windows."""
        return self.ready is not None and self.due is not None

    def distances(self) -> np.ndarray:
        """Return the ``n x n`` distance matrix under the instance's convention.

        Returns
        -------
        numpy.ndarray
            Float array (integral values for ``"nint"``).
        """
        if self.matrix is not None:
            return np.asarray(self.matrix, dtype=float)
        return euclidean(self.coords, self.rounding)

    def index_of(self) -> dict[int, int]:
        """Map file node numbers to matrix positions."""
        return {nid: i for i, nid in enumerate(self.node_ids)}


def euclidean(coords: np.ndarray, rounding: str = "exact") -> np.ndarray:
    """Return Euclidean distances between points under a rounding convention.

    Parameters
    ----------
    coords
        ``(n, 2)`` coordinates.
    rounding
        One of :data:`ROUNDINGS`.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` float distances.
    """
    if rounding not in ROUNDINGS:
        msg = f"unknown rounding {rounding!r}: expected one of {', '.join(ROUNDINGS)}"
        raise InputError(msg)
    xy = np.asarray(coords, dtype=float).reshape(-1, 2)
    d = cdist(xy, xy)
    if rounding == "nint":
        return np.floor(d + 0.5)
    if rounding == "ceil":
        return np.ceil(d)
    if rounding == "dimacs":
        return np.floor(d * 10.0 + 1e-9) / 10.0
    return d


# --------------------------------------------------------------------------- readers


def read_instance(path: str | Path, *, rounding: str | None = None) -> Instance:
    """Read a TSPLIB, Solomon or VRPLIB instance, telling the format from the file.

    Parameters
    ----------
    path
        The instance file: ``.tsp`` (TSPLIB), ``.txt`` (Solomon) or ``.vrp``
        (VRPLIB); files with other suffixes are sniffed.
    rounding
        Override the format's distance convention (see :data:`ROUNDINGS`).

    Returns
    -------
    Instance
        The parsed instance.

    Raises
    ------
    InputError
        If the file is missing, of an unknown format or malformed.
    """
    p = Path(path)
    text = _read_text(p)
    suffix = p.suffix.lower()
    if suffix == ".txt" or re.search(r"^\s*CUST\w*\s+NO", text, re.MULTILINE):
        inst = _parse_solomon(text, p)
    elif suffix == ".tsp" or re.search(r"^\s*TYPE\s*:\s*TSP\s*$", text, re.MULTILINE | re.I):
        inst = _parse_keyword_file(text, p, fmt="tsplib" if suffix == ".tsp" else "vrplib")
    elif re.search(r"^\s*[A-Z_]+\s*:", text, re.MULTILINE):
        inst = _parse_keyword_file(text, p, fmt="vrplib")
    else:
        msg = f"{p}: not a TSPLIB, Solomon or VRPLIB instance"
        raise InputError(msg)
    if rounding is not None:
        if rounding not in ROUNDINGS:
            msg = f"unknown rounding {rounding!r}: expected one of {', '.join(ROUNDINGS)}"
            raise InputError(msg)
        inst = _replace(inst, rounding=rounding)
    return inst


def read_tsplib(path: str | Path) -> Instance:
    """Read a TSPLIB ``.tsp`` file (``EUC_2D``, ``CEIL_2D`` or an explicit matrix).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    Instance
        ``kind="tsp"``, ``rounding="nint"``.
    """
    p = Path(path)
    return _parse_keyword_file(_read_text(p), p, fmt="tsplib")


def read_vrplib(path: str | Path) -> Instance:
    """Read a VRPLIB file (CVRP, VRPTW, or a TSP in VRPLIB form).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    Instance
        ``rounding`` is ``"dimacs"`` for VRPTW files, ``"nint"`` otherwise.
    """
    p = Path(path)
    return _parse_keyword_file(_read_text(p), p, fmt="vrplib")


def read_solomon(path: str | Path) -> Instance:
    """Read a Solomon VRPTW ``.txt`` file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    Instance
        ``kind="vrptw"``, ``rounding="exact"``; node 0 is the depot.
    """
    p = Path(path)
    return _parse_solomon(_read_text(p), p)


def _read_text(p: Path) -> str:
    if not p.is_file():
        msg = f"instance file not found: {p}"
        raise InputError(msg)
    try:
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        msg = f"cannot read instance file {p}: {exc}"
        raise InputError(msg) from exc


def _replace(inst: Instance, **changes: object) -> Instance:
    return dataclasses.replace(inst, **changes)  # type: ignore[arg-type]


def _parse_solomon(text: str, p: Path) -> Instance:
    lines = [ln.strip() for ln in text.splitlines()]
    name = next((ln for ln in lines if ln), p.stem)
    vehicles = capacity = None
    rows: list[list[float]] = []
    for i, ln in enumerate(lines):
        if ln.upper().startswith("NUMBER") and "CAPACITY" in ln.upper():
            nums = _numbers(next((x for x in lines[i + 1 :] if x), ""))
            if len(nums) < 2:
                msg = f"{p}: line {i + 2}: expected vehicle number and capacity"
                raise InputError(msg)
            vehicles, capacity = int(nums[0]), int(nums[1])
        if re.match(r"^CUST\w*\s+NO", ln.upper()):
            for j, row in enumerate(lines[i + 1 :], start=i + 2):
                if not row:
                    continue
                nums = _numbers(row)
                if len(nums) != 7:
                    msg = f"{p}: line {j}: expected 7 numbers per customer, got {len(nums)}"
                    raise InputError(msg)
                rows.append(nums)
            break
    if not rows or capacity is None:
        msg = f"{p}: not a Solomon file (no VEHICLE or CUSTOMER section)"
        raise InputError(msg)
    a = np.array(rows, dtype=float)
    ids = tuple(int(x) for x in a[:, 0])
    if len(set(ids)) != len(ids):
        msg = f"{p}: duplicate customer numbers"
        raise InputError(msg)
    return Instance(
        name=name.split()[0],
        kind="vrptw",
        fmt="solomon",
        node_ids=ids,
        coords=a[:, 1:3],
        rounding="exact",
        demands=a[:, 3].astype(np.int64),
        capacity=capacity,
        num_vehicles=vehicles,
        ready=a[:, 4],
        due=a[:, 5],
        service=a[:, 6],
    )


def _numbers(line: str) -> list[float]:
    try:
        return [float(x) for x in line.split()]
    except ValueError:
        return []


_SECTIONS = (
    "NODE_COORD_SECTION",
    "DEMAND_SECTION",
    "DEPOT_SECTION",
    "TIME_WINDOW_SECTION",
    "SERVICE_TIME_SECTION",
    "EDGE_WEIGHT_SECTION",
    "DISPLAY_DATA_SECTION",
    "FIXED_EDGES_SECTION",
    "TOUR_SECTION",
)


def _parse_keyword_file(text: str, p: Path, *, fmt: str) -> Instance:
    """Parse TSPLIB/VRPLIB ``KEY : value`` headers and ``*_SECTION`` blocks."""
    head, sections = _keyword_blocks(text, p)
    name = head.get("NAME", p.stem).split()[0] if head.get("NAME") else p.stem
    typ = head.get("TYPE", "").upper()
    kind = {"TSP": "tsp", "CVRP": "cvrp", "VRPTW": "vrptw", "CVRPTW": "vrptw"}.get(typ)
    if kind is None:
        msg = f"{p}: unsupported TYPE {typ!r} (expected TSP, CVRP or VRPTW)"
        raise InputError(msg)
    ewt = head.get("EDGE_WEIGHT_TYPE", "").upper()
    try:
        ids, coords, matrix = _nodes(head, sections, ewt, p)
        pos = {nid: i for i, nid in enumerate(ids)}
        order = _depot_first(sections, ids, pos, p)
        node_ids = tuple(ids[i] for i in order)
        coords = coords[order] if len(coords) else coords
        if matrix is not None:
            matrix = matrix[np.ix_(order, order)]
        demands = capacity = None
        if kind != "tsp":
            demands = _per_node(sections.get("DEMAND_SECTION"), pos, order, "DEMAND_SECTION", p)
            demands = demands.astype(np.int64)
            capacity = int(float(head.get("CAPACITY", "0")))
        ready = due = service = None
        if kind == "vrptw":
            ready, due, service = _time_windows(head, sections, pos, order, p)
        vehicles = int(float(head["VEHICLES"])) if "VEHICLES" in head else None
    except InputError:
        raise
    except (KeyError, ValueError, IndexError) as exc:
        msg = f"{p}: malformed instance ({exc})"
        raise InputError(msg) from exc
    rounding = "ceil" if ewt == "CEIL_2D" else ("nint" if kind != "vrptw" else "dimacs")
    return Instance(
        name=name,
        kind=kind,
        fmt=fmt,
        node_ids=node_ids,
        coords=coords,
        rounding=rounding,
        demands=demands,
        capacity=capacity,
        num_vehicles=1 if kind == "tsp" else vehicles,
        ready=ready,
        due=due,
        service=service,
        matrix=matrix,
    )


def _keyword_blocks(text: str, p: Path) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    """Split a keyword file into its ``KEY : value`` headers and its sections' rows."""
    head: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for ln in text.splitlines():
        s = ln.strip()
        if not s:
            continue
        if s.upper() == "EOF":
            break
        key = s.split(":", 1)[0].strip().upper() if ":" in s else s.split()[0].upper()
        if key in _SECTIONS:
            current = key
            sections[current] = []
            continue
        if ":" in s and re.match(r"^[A-Za-z_]+\s*:", s):
            k, v = s.split(":", 1)
            head[k.strip().upper()] = v.strip()
            current = None
            continue
        if current is None:
            msg = f"{p}: unexpected line {s[:60]!r}"
            raise InputError(msg)
        sections[current].append(s.split())
    return head, sections


def _nodes(
    head: dict[str, str], sections: dict[str, list[list[str]]], ewt: str, p: Path
) -> tuple[list[int], np.ndarray, np.ndarray | None]:
    """Return the node numbers, their coordinates and the explicit matrix (if any)."""
    coords_rows = sections.get("NODE_COORD_SECTION", [])
    matrix: np.ndarray | None = None
    if coords_rows:
        ids = [int(r[0]) for r in coords_rows]
        coords = np.array([[float(r[1]), float(r[2])] for r in coords_rows])
    else:
        dim = int(float(head["DIMENSION"]))
        ids = list(range(1, dim + 1))
        coords = np.zeros((0, 2))
    if ewt in ("EUC_2D", "CEIL_2D"):
        if not coords_rows:
            msg = f"{p}: {ewt} without NODE_COORD_SECTION"
            raise InputError(msg)
    elif ewt == "EXPLICIT":
        matrix = _explicit(head, sections.get("EDGE_WEIGHT_SECTION", []), len(ids), p)
    else:
        msg = f"{p}: unsupported EDGE_WEIGHT_TYPE {ewt!r} (expected EUC_2D, CEIL_2D or EXPLICIT)"
        raise InputError(msg)
    dim = int(float(head.get("DIMENSION", len(ids))))
    if dim != len(ids):
        msg = f"{p}: DIMENSION {dim} but {len(ids)} nodes"
        raise InputError(msg)
    if len(set(ids)) != len(ids):
        msg = f"{p}: duplicate node numbers"
        raise InputError(msg)
    return ids, coords, matrix


def _depot_first(
    sections: dict[str, list[list[str]]], ids: list[int], pos: dict[int, int], p: Path
) -> list[int]:
    """Return the node positions in model order: the depot first, then the rest."""
    depot = ids[0]
    if "DEPOT_SECTION" in sections:
        dep = [int(r[0]) for r in sections["DEPOT_SECTION"] if int(r[0]) >= 0]
        if len(dep) != 1 or dep[0] not in pos:
            msg = f"{p}: exactly one depot (a listed node) is supported"
            raise InputError(msg)
        depot = dep[0]
    return [pos[depot]] + [i for i in range(len(ids)) if ids[i] != depot]


def _time_windows(
    head: dict[str, str],
    sections: dict[str, list[list[str]]],
    pos: dict[int, int],
    order: list[int],
    p: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the ready times, due times and service times of a VRPTW, in model order."""
    tw = sections.get("TIME_WINDOW_SECTION")
    if not tw:
        msg = f"{p}: VRPTW without TIME_WINDOW_SECTION"
        raise InputError(msg)
    ready = _per_node([[r[0], r[1]] for r in tw], pos, order, "TIME_WINDOW_SECTION", p)
    due = _per_node([[r[0], r[2]] for r in tw], pos, order, "TIME_WINDOW_SECTION", p)
    if "SERVICE_TIME_SECTION" in sections:
        service = _per_node(sections["SERVICE_TIME_SECTION"], pos, order, "SERVICE_TIME_SECTION", p)
    else:
        service = np.full(len(pos), float(head.get("SERVICE_TIME", "0")))
        service[0] = 0.0
    return ready, due, service


def _per_node(
    rows: list[list[str]] | None, pos: dict[int, int], order: list[int], what: str, p: Path
) -> np.ndarray:
    if not rows:
        msg = f"{p}: missing {what}"
        raise InputError(msg)
    out = np.zeros(len(pos))
    for r in rows:
        out[pos[int(r[0])]] = float(r[1])
    return out[order]


def _explicit(head: dict[str, str], rows: list[list[str]], n: int, p: Path) -> np.ndarray:
    fmt = head.get("EDGE_WEIGHT_FORMAT", "FULL_MATRIX").upper()
    vals = np.array([float(x) for r in rows for x in r])
    if fmt == "FULL_MATRIX" and len(vals) == n * n:
        return vals.reshape(n, n)
    m = np.zeros((n, n))
    if fmt in ("LOWER_ROW", "LOWER_DIAG_ROW", "UPPER_ROW", "UPPER_DIAG_ROW"):
        diag = "DIAG" in fmt
        if fmt.startswith("LOWER"):
            idx = np.tril_indices(n, 0 if diag else -1)
        else:
            idx = np.triu_indices(n, 0 if diag else 1)
        # rows of a lower/upper matrix are read row by row
        order = np.lexsort((idx[1], idx[0]))
        if len(vals) == len(order):
            m[idx[0][order], idx[1][order]] = vals
            return np.maximum(m, m.T)
    msg = f"{p}: EDGE_WEIGHT_FORMAT {fmt} with {len(vals)} values does not fit {n} nodes"
    raise InputError(msg)


# --------------------------------------------------------------------------- costs


def routes_to_positions(inst: Instance, routes: Sequence[Sequence[int]]) -> list[list[int]]:
    """Translate routes of file node numbers into matrix positions.

    Parameters
    ----------
    inst
        The instance.
    routes
        Routes as node numbers of the file (the depot excluded; for a TSP the
        whole tour, which may include the first city).

    Returns
    -------
    list of list of int
        Positions in :meth:`Instance.distances`.

    Raises
    ------
    InputError
        For a node number not in the instance.
    """
    pos = inst.index_of()
    try:
        return [[pos[int(c)] for c in r] for r in routes]
    except KeyError as exc:
        msg = f"node {exc.args[0]} is not in instance {inst.name}"
        raise InputError(msg) from None


def route_cost(inst: Instance, routes: Sequence[Sequence[int]]) -> float:
    """Total distance of routes, recomputed from the instance.

    Every route starts and ends at the depot (position 0); a TSP tour is
    closed. Distances follow the instance's convention; for ``"exact"`` the
    float sum is returned.

    Parameters
    ----------
    inst
        The instance.
    routes
        Routes in file node numbers (see :func:`routes_to_positions`).

    Returns
    -------
    float
        The cost.
    """
    d = inst.distances()
    total = 0.0
    for r in routes_to_positions(inst, routes):
        if not r:
            continue
        seq = [0, *r, 0] if r[0] != 0 else [*r, r[0]]
        total += float(sum(d[a, b] for a, b in itertools.pairwise(seq)))
    return float(round(total)) if inst.rounding in ("nint", "ceil") else round(total, 6)


def check_solution(inst: Instance, routes: Sequence[Sequence[int]]) -> list[str]:
    """Check routes against the instance; return the violations found.

    Checks that every customer is visited exactly once (every city for a
    TSP), loads fit the capacity, the fleet size is respected, and (VRPTW)
    service starts within each time window and routes return to the depot by
    its due time, with travel times equal to the convention's distances.

    Parameters
    ----------
    inst
        The instance.
    routes
        Routes in file node numbers.

    Returns
    -------
    list of str
        Human-readable violations; empty when the solution is feasible.
    """
    out: list[str] = []
    pos_routes = routes_to_positions(inst, routes)
    seen = [c for r in pos_routes for c in r]
    if inst.kind == "tsp" and 0 not in seen:
        seen.append(0)  # a tour may leave the first city (the depot) implicit
    expected = set(range(inst.dimension)) if inst.kind == "tsp" else set(range(1, inst.dimension))
    if inst.kind != "tsp" and 0 in seen:
        out.append("the depot appears inside a route")
    missing = expected - set(seen)
    if missing:
        out.append(f"{len(missing)} node(s) not visited, e.g. {inst.node_ids[min(missing)]}")
    if len(seen) != len(set(seen)):
        out.append("a node is visited more than once")
    if inst.num_vehicles is not None and sum(1 for r in pos_routes if r) > inst.num_vehicles:
        out.append(f"{len(pos_routes)} routes but {inst.num_vehicles} vehicles")
    if inst.demands is not None and inst.capacity:
        for k, r in enumerate(pos_routes):
            load = int(inst.demands[r].sum()) if r else 0
            if load > inst.capacity:
                out.append(f"route {k + 1}: load {load} > capacity {inst.capacity}")
    if inst.has_time_windows:
        assert inst.ready is not None and inst.due is not None and inst.service is not None
        d = inst.distances()
        for k, r in enumerate(pos_routes):
            t, prev = float(inst.ready[0]), 0
            for c in [*r, 0]:
                t = max(t + float(inst.service[prev]) + d[prev, c], float(inst.ready[c]))
                if t > float(inst.due[c]) + _FEAS_EPS:
                    where = "the depot" if c == 0 else f"node {inst.node_ids[c]}"
                    out.append(f"route {k + 1}: {where} reached at {t:.4f} > due {inst.due[c]:g}")
                    break
                prev = c
    return out


def read_solution(path: str | Path, *, offset: int = 1) -> list[list[int]]:
    """Read a VRPLIB ``.sol`` file (``Route #k: a b c`` lines).

    Parameters
    ----------
    path
        The solution file.
    offset
        Added to every number: VRPLIB solutions number clients from 1 with
        the depot as 0, i.e. the file's node number minus one (default 1
        turns them into the instance file's numbers).

    Returns
    -------
    list of list of int
        Routes in the instance file's node numbers.
    """
    p = Path(path)
    routes = []
    for ln in _read_text(p).splitlines():
        if ln.strip().lower().startswith("route"):
            routes.append([int(x) + offset for x in ln.split(":", 1)[1].split()])
    return routes


def solution_cost_stated(path: str | Path) -> float | None:
    """Return the ``Cost`` stated in a ``.sol`` file, if any."""
    for ln in _read_text(Path(path)).splitlines():
        m = re.match(r"^\s*cost\s*:?\s*([-+0-9.eE]+)", ln, re.I)
        if m:
            return float(m.group(1))
    return None


def scaled(values: np.ndarray, scale: int, *, up: bool = False) -> np.ndarray:
    """Scale float values to int64, rounding to nearest or up.

    Parameters
    ----------
    values
        Values to scale.
    scale
        Multiplier.
    up
        Round up (for durations: never optimistic about time).

    Returns
    -------
    numpy.ndarray
        int64 values.
    """
    v = np.asarray(values, dtype=float) * scale
    r = np.ceil(v - 1e-9) if up else np.rint(v)
    return r.astype(np.int64)


def scale_of(inst: Instance) -> int:
    """Integer scale that represents the instance's distances faithfully.

    Returns 1 for ``"nint"`` and ``"ceil"``, 10 for ``"dimacs"`` and 10,000
    for ``"exact"`` (an error of at most 0.5e-4 per edge for costs; durations
    round up).
    """
    return {"nint": 1, "ceil": 1, "dimacs": 10, "exact": 10_000}[inst.rounding]


__all__ = [
    "ROUNDINGS",
    "Instance",
    "check_solution",
    "euclidean",
    "read_instance",
    "read_solomon",
    "read_solution",
    "read_tsplib",
    "read_vrplib",
    "route_cost",
    "routes_to_positions",
    "scale_of",
    "scaled",
    "solution_cost_stated",
]
