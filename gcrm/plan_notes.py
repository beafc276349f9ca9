"""Why a plan holds few or no visits, in words a rep can act on.

Two causes used to end as "0 visits" with a misleading "not enough time":
nothing was due in the planned days, or a rep's home base lies far from the
road network (a typo in the home, coordinates swapped, a home outside the
region). :func:`explain_plan` adds notes naming the cause to a plan's
``stats["notes"]`` and gives the visits dropped for the second cause that
reason instead.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gcrm.network import load_network, snap_points

if TYPE_CHECKING:
    import networkx as nx

#: A home base farther than this from every road of the profile cannot start a route.
HOME_FAR_M = 1_000.0


def explain_plan(plan: Any, *, full_reason: str, G: nx.MultiDiGraph | None = None) -> list[str]:
    """Add notes on why a plan is empty or short to ``plan.stats["notes"]``.

    Parameters
    ----------
    plan
        A :class:`gcrm.routing.Plan`.
    full_reason
        The reason routing gives a visit dropped for lack of time.
    G
        Its road graph; loaded for the plan's profile when a home must be
        checked and none is given.

    Returns
    -------
    list of str
        The notes (also stored in ``plan.stats["notes"]``).
    """
    problem = plan.problem
    notes: list[str] = []
    dates = problem.dates
    if not problem.visits:
        span = f"{dates[0]:%d.%m.%Y}" + (f"-{dates[-1]:%d.%m.%Y}" if len(dates) > 1 else "")
        who = ", ".join(r.id for r in problem.reps) or "the reps"
        notes.append(
            f"nothing to plan: no account of {who} is due for a visit by {span} "
            "(pick accounts to visit, or plan later days)"
        )
    else:
        far = _far_homes(problem, G)
        for rep_id, (lat, lon), metres in far:
            notes.append(
                f"{rep_id}'s home base ({lat:.5f}, {lon:.5f}) is {metres / 1000:.1f} km from "
                f"the nearest road of the {problem.profile} network, so no route can start "
                f"there: set a home on a street (Admin page, or python -m gcrm users set "
                f"{rep_id} --home ADDRESS)"
            )
        if far and len(far) == len(problem.reps):
            reason = f"home base far from the road network ({far[0][0]}: {far[0][2] / 1000:.1f} km)"
            for i, d in enumerate(plan.dropped):
                if d.reason == full_reason:
                    plan.dropped[i] = dataclasses.replace(d, reason=reason)
    plan.stats["notes"] = notes
    return notes


def _far_homes(
    problem: Any, G: nx.MultiDiGraph | None
) -> list[tuple[str, tuple[float, float], float]]:
    """Return the reps whose start or end point lies farther than :data:`HOME_FAR_M` from a road."""
    if not problem.reps:
        return []
    if G is None:
        G = load_network(profile=problem.profile)
    points = [p for r in problem.reps for p in (r.start, r.end_point)]
    snapped = snap_points(G, [p[0] for p in points], [p[1] for p in points])
    out = []
    for i, r in enumerate(problem.reps):
        worst = max(snapped[2 * i], snapped[2 * i + 1], key=lambda s: s.snap_distance_m)
        if worst.snap_distance_m > HOME_FAR_M:
            out.append((r.id, (worst.lat, worst.lon), float(worst.snap_distance_m)))
    return out
