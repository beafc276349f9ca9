"""Routes, call cycles and the offline geo tools: ``gcrm plan``, ``cycle``, ``solve`` ...

``geocode``, ``matrix`` and ``solve`` touch no stored data and run without a user.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gcrm.cli._common import LazyModule, Run, app, command, echo_json, plain

if TYPE_CHECKING:
    import numpy as np

    from gcrm import cycle_options, cycle_plans, cycles, plan_cli
    from gcrm import geocode as geocoding
    from gcrm import matrix as matrices
    from gcrm.bench import pvrp_io
    from gcrm.bench import solve as bench_solve
else:
    np = LazyModule("numpy")
    pvrp_io = LazyModule("gcrm.bench.pvrp_io")
    bench_solve = LazyModule("gcrm.bench.solve")
    cycle_options = LazyModule("gcrm.cycle_options")
    cycle_plans = LazyModule("gcrm.cycle_plans")
    cycles = LazyModule("gcrm.cycles")
    geocoding = LazyModule("gcrm.geocode")
    matrices = LazyModule("gcrm.matrix")
    plan_cli = LazyModule("gcrm.plan_cli")


@command(app)
def plan(
    run: Run,
    rep: Annotated[str, typer.Option(help="The rep (username) to plan for.")],
    date: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="plan.json to write.")],
    days: Annotated[int, typer.Option(help="Number of days.")] = 1,
    seconds: Annotated[float | None, typer.Option(help="Solver time limit.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same plan).")] = 0,
    profile: Annotated[str, typer.Option(help="drive, walk or bike.")] = "drive",
    gpx: Annotated[Path | None, typer.Option(help="Also write the route as GPX (UTC).")] = None,
    ics: Annotated[
        Path | None, typer.Option(help="Also write the visits as iCalendar (VTIMEZONE).")
    ] = None,
) -> None:
    """Plan a rep's visits (due accounts) over the road network; writes the plan as JSON."""
    with run.acting() as (session, actor):
        summary = plan_cli.plan_command(
            session, actor, rep, date, days=days, seconds=seconds, output=output,
            seed=seed, profile=profile, gpx=gpx, ics=ics,
        )  # fmt: skip
    echo_json(summary)


@command(app)
def cycle(
    run: Run,
    reps: Annotated[str, typer.Option(help="Reps (usernames), comma-separated.")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    weeks: Annotated[int, typer.Option(help="Horizon in weeks (1-8).")] = 4,
    country: Annotated[
        str, typer.Option(help="Public holidays of this country; '' for none.")
    ] = "FI",
    iterations: Annotated[int, typer.Option(help="Solver iterations per rep.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same plan).")] = 0,
    profile: Annotated[str, typer.Option(help="drive, walk or bike.")] = "drive",
    balance: Annotated[
        float | None, typer.Option(help="Cap days at this multiple of the average (e.g. 1.25).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON to write.")] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Save each rep's cycle (replacing overlapping ones).")
    ] = False,
) -> None:
    """Plan call cycles: each account's visit days and every working day's route, as JSON."""
    with run.acting() as (session, actor):
        names = [r.strip() for r in reps.split(",") if r.strip()]
        plan_fn = cycle_plans.plan_and_save if save else cycles.plan_cycles
        options = cycle_options.CycleOptions(
            weeks=weeks, country=country or None, iterations=iterations, seed=seed,
            profile=profile, balance=balance,
        )  # fmt: skip
        result = plan_fn(session, actor, names, start, options=options)
    if output is not None:
        output.write_text(json.dumps(plain(result), allow_nan=False), encoding="utf-8")
    echo_json(result)


@command(app, "cycle-ics")
def cycle_ics_command(
    run: Run,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .ics file to write.")],
    rep: Annotated[str | None, typer.Option(help="Only this rep's cycles.")] = None,
) -> None:
    """Export the saved call cycles you may see as one iCalendar file (whole horizons)."""
    with run.acting() as (session, actor):
        text = cycle_plans.cycle_ics(session, actor, rep=rep)
    output.write_text(text, encoding="utf-8")
    echo_json({"output": str(output), "events": text.count("BEGIN:VEVENT")})


@command(app, acts=False, db=False)
def solve(
    run: Run,
    instance: Annotated[
        Path, typer.Argument(help="TSPLIB (.tsp), Solomon (.txt), VRPLIB or Cordeau PVRP file.")
    ],
    seconds: Annotated[float, typer.Option(help="Time limit.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="sol.json to write.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Solve a benchmark instance: {"routes": [...], "cost": ...}.

    Cordeau PVRP files give {"days": [[[customers], ...routes], ...days], "cost": ...}.
    """
    if pvrp_io.is_pvrp_file(instance):
        summary = pvrp_io.solve_pvrp_file(instance, seconds=seconds, output=output, seed=seed)
    else:
        summary = bench_solve.solve_instance_file(
            instance, seconds=seconds, output=output, seed=seed
        )
    echo_json(summary)


@command(app, acts=False, db=False)
def geocode(
    run: Run,
    input_csv: Annotated[Path, typer.Argument(help="CSV with id and address columns.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")],
    osm: Annotated[Path | None, typer.Option(help="OSM file (default: the region's).")] = None,
    min_score: Annotated[
        float | None, typer.Option(help="Results scoring lower are 'none'.")
    ] = None,
) -> None:
    """Geocode a CSV offline: adds lat, lon, precision, score, matched, reason."""
    summary = geocoding.geocode_file(input_csv, output, osm, progress=True, min_score=min_score)
    echo_json(summary)


class Weight(StrEnum):
    """What a matrix minimises."""

    time = "time"
    length = "length"


@command(app, acts=False, db=False)
def matrix(
    run: Run,
    points: Annotated[Path, typer.Option(help="CSV with id, lat, lon.")],
    output: Annotated[Path, typer.Option("--output", "-o", help=".npz to write.")],
    osm: Annotated[Path | None, typer.Option(help="OSM file (default: the region's).")] = None,
    weight: Annotated[Weight, typer.Option(help="Minimise travel time or length.")] = (Weight.time),
    profile: Annotated[str, typer.Option(help="drive, drive_service, walk or bike.")] = "drive",
) -> None:
    """Travel-time and distance matrices over the road network (inf = unreachable)."""
    result = matrices.matrix_from_points_file(
        osm, points, output, weight=weight.value, profile=profile
    )
    echo_json(
        {
            "output": str(output),
            "points": len(result.ids),
            "too_far": int(result.too_far.sum()),
            "unreachable_pairs": int((~np.isfinite(result.durations)).sum()),
        }
    )
