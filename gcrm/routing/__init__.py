"""Visit route planning: planning model -> PyVRP -> itineraries; re-plan.

The planning model (:class:`PlanningProblem`, :mod:`gcrm.routing.problem`)
holds visits (:class:`Visit`), reps (:class:`Rep`) and the days to plan. It
does not depend on the UI or the database: :func:`build_problem`
(:mod:`gcrm.routing.from_store`, the only routing module touching the store)
fills it from the store, tests and other callers build it directly.
:func:`plan_routes` (:mod:`gcrm.routing.planner`) computes travel times along
the streets (:mod:`gcrm.matrix`), turns the problem into PyVRP data
(:func:`build_model`, :mod:`gcrm.routing._model`), solves it
(:func:`solve_model`, :mod:`gcrm.routing._solve`), schedules every route
(:mod:`gcrm.routing._schedule`) and returns a :class:`Plan`
(:mod:`gcrm.routing.plan`): per rep and day the ordered stops with arrival,
wait, start and end times, drive time and distance per leg and in total, the
lunch break, the route geometry along the streets, and the visits left out
with the reason. Plans check themselves (:meth:`Plan.is_feasible`,
:meth:`Plan.cost`, :meth:`Plan.summary`) and are JSON-serialisable.
Opening hours: :mod:`gcrm.routing.hours`; GPX, iCalendar and map links:
:mod:`gcrm.routing.export`; the printable itinerary:
:mod:`gcrm.routing.itinerary`. Benchmark instances and their own tour search
live apart, in :mod:`gcrm.bench`.

Time and rounding
-----------------
All model times are integer seconds since midnight of the day a vehicle
works. Travel durations are rounded *up* to the second (a schedule built on
them is never optimistic: each leg is given at least its true duration) and
distances to the nearest metre. Visit and break durations are whole seconds,
opening hours whole minutes. Times in the plan are naive local datetimes.

The lunch break
---------------
A rep takes the break where they are: after a visit, before leaving, or at
the end location after returning. PyVRP has no breaks, and the usual
pseudo-client "with zero travel to and from everywhere" is wrong: a route
``i -> break -> j`` would then skip the trip from ``i`` to ``j``. Instead
every client also has a *lunch variant* at the same location: the visit
followed by the break, with service time ``visit + break`` and a window that
makes the break start and end inside the break window. The variants are
alternatives in the visit's group, carry a bonus (larger than any visit's
prize) and deliver one unit in a "lunch" load dimension where each vehicle
has capacity one: each route takes at most one break, and takes one when it
can. Travel times stay exact, so the solver sees the true day. After
solving, each route is scheduled exactly (:mod:`gcrm.routing._schedule`).
Do-not-contact accounts are never scheduled: the builders leave them out
and :func:`plan_routes` checks the result.
"""

from gcrm.due import due_date
from gcrm.routing._model import RoutingModel, build_model, model_points
from gcrm.routing._schedule import schedule_solution
from gcrm.routing._solve import ModelSolution, pyvrp_solve, solve_model
from gcrm.routing.export import (
    GOOGLE_TRAVEL_MODES,
    MAX_LINK_WAYPOINTS,
    geo_link,
    google_maps_links,
    navigate_link,
    tel_link,
    to_gpx,
    to_ics,
)
from gcrm.routing.from_store import (
    build_problem,
    check_can_plan,
    plan_for_reps,
    plannable_users,
    rep_from_user,
    visits_from_accounts,
)
from gcrm.routing.hours import open_intervals, visit_windows
from gcrm.routing.itinerary import (
    OSM_CREDIT,
    ROW_COLUMNS,
    itinerary_html,
    itinerary_pdf,
    itinerary_rows,
    plan_stamp,
    route_map_png,
)
from gcrm.routing.plan import (
    DroppedVisit,
    LunchSlot,
    Plan,
    PlannedStop,
    PlanningError,
    ResumePoint,
    RoutePlan,
    check_plan_rules,
)
from gcrm.routing.planner import add_geometry, plan_routes, replan
from gcrm.routing.problem import (
    DEFAULT_LUNCH,
    MAX_SOLVER_SECONDS,
    PARALLEL_MIN_CLIENTS,
    REASON_APPOINTMENT,
    REASON_CLOSED,
    REASON_DNC,
    REASON_DUPLICATE,
    REASON_FULL,
    REASON_LUNCH,
    REASON_NO_DAY,
    REASON_NO_LOCATION,
    REASON_NO_REP,
    REASON_OUTSIDE_SHIFT,
    REASON_REQUIRED_FULL,
    REASON_SKIPPED,
    REASON_UNREACHABLE,
    LunchBreak,
    PlanningProblem,
    PlanOptions,
    Rep,
    Visit,
)

__all__ = [
    "DEFAULT_LUNCH",
    "GOOGLE_TRAVEL_MODES",
    "MAX_LINK_WAYPOINTS",
    "MAX_SOLVER_SECONDS",
    "OSM_CREDIT",
    "PARALLEL_MIN_CLIENTS",
    "REASON_APPOINTMENT",
    "REASON_CLOSED",
    "REASON_DNC",
    "REASON_DUPLICATE",
    "REASON_FULL",
    "REASON_LUNCH",
    "REASON_NO_DAY",
    "REASON_NO_LOCATION",
    "REASON_NO_REP",
    "REASON_OUTSIDE_SHIFT",
    "REASON_REQUIRED_FULL",
    "REASON_SKIPPED",
    "REASON_UNREACHABLE",
    "ROW_COLUMNS",
    "DroppedVisit",
    "LunchBreak",
    "LunchSlot",
    "ModelSolution",
    "Plan",
    "PlanOptions",
    "PlannedStop",
    "PlanningError",
    "PlanningProblem",
    "Rep",
    "ResumePoint",
    "RoutePlan",
    "RoutingModel",
    "Visit",
    "add_geometry",
    "build_model",
    "build_problem",
    "check_can_plan",
    "check_plan_rules",
    "due_date",
    "geo_link",
    "google_maps_links",
    "itinerary_html",
    "itinerary_pdf",
    "itinerary_rows",
    "model_points",
    "navigate_link",
    "open_intervals",
    "plan_for_reps",
    "plan_routes",
    "plan_stamp",
    "plannable_users",
    "pyvrp_solve",
    "rep_from_user",
    "replan",
    "route_map_png",
    "schedule_solution",
    "solve_model",
    "tel_link",
    "to_gpx",
    "to_ics",
    "visit_windows",
    "visits_from_accounts",
]
