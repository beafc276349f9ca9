"""Sales territories: import, drawing, account assignment and balanced building.

Territories come from an uploaded GeoJSON file (:func:`read_territories_geojson`),
from shapes drawn on the map (:func:`territories_from_drawings`) or from the
automatic builder (:func:`build_territories`). Accounts are assigned by a
spatial join (:func:`assign_accounts`): each located account gets the one
territory that covers it, and the accounts outside every territory (or in
several overlapping ones) are reported.

The builder splits a region into K territories, one per rep, seeded at the
reps' home bases:

1. *Units*: the distinct account locations inside the region, each with its
   Voronoi cell clipped to the region (the cells tile the region), and the
   cells' adjacency (a shared edge).
2. *Capacitated assignment*: a mixed-integer program (HiGHS through
   :func:`scipy.optimize.milp`) gives every unit to one territory, minimising
   the moment of inertia of Hess et al. (1965), ``load x (drive time from the
   territory's home base)^2``, with every territory's load within
   ``tolerance`` of the mean load. The load is the *workload* (visit time
   plus drive time per planning period) or the *potential* value. Weighting
   the drive time by the load itself keeps the solver from meeting the
   balance with heavy units far away, so territories come out compact
   around their reps.
3. *Contiguity repair and local improvement*: units cut off from their
   territory's seed are handed to an adjacent territory, then boundary units
   move between neighbouring territories (never cutting a territory in two)
   while the load balance improves, then while a mix of drive cost and total
   border length drops within the balance target.
4. *Polygons*: each territory is the union of its units' cells: the
   territories tile the region, do not overlap, and are each one polygon.

The result (:class:`TerritoryPlan`) reports the balance (max/min of
workload and of potential) and compactness (Polsby-Popper, ``4 pi A / P^2``:
1 for a disc). :func:`build_and_save_territories` runs it on the database
and saves the territories and the accounts' assignment.

Workload of an account, in minutes per planning period (``period_days``)::

    visits = period_days / visit_every_days   (1 when there is no target, 0 if do-not-contact)
    workload = visits * (visit_minutes + 2 * drive_from_home / stops_per_day)

that is, each visit also carries its share of a day's round trip from the
rep's home base.
"""

from __future__ import annotations

from gcrm.territories.assign import TerritoryAssignment, assign_accounts
from gcrm.territories.builder import (
    BALANCES,
    CROW_FLY_KPH,
    TerritoryPlan,
    account_workload,
    build_territories,
)
from gcrm.territories.save import build_and_save_territories, import_territories, save_and_assign
from gcrm.territories.shapes import (
    check_territories,
    polsby_popper,
    read_territories_geojson,
    territories_from_drawings,
)

__all__ = [
    "BALANCES",
    "CROW_FLY_KPH",
    "TerritoryAssignment",
    "TerritoryPlan",
    "account_workload",
    "assign_accounts",
    "build_and_save_territories",
    "build_territories",
    "check_territories",
    "import_territories",
    "polsby_popper",
    "read_territories_geojson",
    "save_and_assign",
    "territories_from_drawings",
]
