"""What each kind of job does: the handlers a worker runs (see :mod:`gcrm.jobs`).

Each handler takes the claimed job and a progress callback and returns
``(result, file)``: a JSON-serialisable result for the page, and optionally a
file (a report) kept in the job row. Handlers act as the user who submitted the
job, with that user's rights and scope, in their own transactions: a failure
leaves the store as it was (an import rolls back whole). A cancelled job's
progress callback raises :class:`~gcrm._errors.JobCancelledError`, so handlers
call it only before or inside their writing transaction, never after it commits.

Kinds:

- ``territories``: build and save balanced territories (Territories page);
- ``report``: a report file, kept for download (Reports page);
- ``cycles``: plan and save call cycles for reps over weeks (Visit plan page);
- ``cycle_appointment``: add a fixed appointment to a saved cycle and re-plan
  the days it changes (Visit plan page);
- ``day_plan``: a rep's multi-day or large plan (My day; small one-day plans
  run in the page, see :func:`gcrm.jobs.plan_in_page`);
- ``import``: import (or preview) an uploaded accounts file, carried in the
  job row (Import page).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from gcrm import reports, territories
from gcrm._errors import InputError
from gcrm.actions.imports import import_upload
from gcrm.actions.my_day import plan_day
from gcrm.auth import Actor, actor_for
from gcrm.db import queue
from gcrm.db.queue import JobState
from gcrm.db.session import session_scope
from gcrm.import_report import report_to_dict
from gcrm.network import load_network
from gcrm.visit_plan import add_appointment, plan_visits

Progress = Callable[[float, str], None]
Handler = Callable[[JobState, Progress], tuple[Any, bytes | None]]


@functools.cache
def _road_graph() -> Any:
    # Loaded once per worker process and kept: jobs after the first skip the load.
    return load_network()


def _actor(username: str) -> Actor:
    with session_scope() as session:
        return actor_for(session, username)


def _build_territories(job: JobState, progress: Progress) -> tuple[Any, bytes | None]:
    payload = job.payload
    progress(0.1, "Loading the road network")
    G = _road_graph()
    progress(0.3, f"Building {int(payload['k'])} territories")
    with session_scope() as session:
        actor = actor_for(session, job.username)
        result = territories.build_and_save_territories(
            session,
            actor,
            int(payload["k"]),
            str(payload.get("balance", "workload")),
            G=G,
            set_owners=bool(payload.get("set_owners", False)),
        )
        # Inside the transaction: a cancel noticed here still rolls the build back.
        progress(0.95, "Saving")
    return result, None


def _report_file(job: JobState, progress: Progress) -> tuple[Any, bytes | None]:
    kind, fmt = str(job.payload["kind"]), str(job.payload["fmt"])
    progress(0.1, "Loading the road network" if kind == "territories" else "Reading accounts")
    graph = _road_graph() if kind == "territories" else None
    progress(0.3, f"Writing the {kind} report ({fmt})")
    with session_scope() as session:
        actor = actor_for(session, job.username)
        export = reports.export_report(session, actor, kind, fmt, graph=graph)  # type: ignore[arg-type]
    meta = {
        "filename": export.filename,
        "mime": export.mime,
        "rows": export.rows,
        "sha256": export.sha256,
    }
    return meta, export.data


def _plan_cycles(job: JobState, progress: Progress) -> tuple[Any, bytes | None]:
    payload = job.payload
    reps = [str(r) for r in payload["reps"]]
    progress(0.1, "Loading the road network")
    G = _road_graph()
    progress(0.3, f"Planning call cycles for {len(reps)} reps")
    balance = payload.get("balance")
    out = plan_visits(
        _actor(job.username),
        reps,
        dt.date.fromisoformat(str(payload["start"])),
        weeks=int(payload.get("weeks", 4)),
        iterations=int(payload.get("iterations", 200)),
        balance=None if balance is None else float(balance),
        G=G,
    )
    return {"reps": [c["rep"] for c in out["reps"]], "start": out["start"], "end": out["end"]}, None


def _cycle_appointment(job: JobState, progress: Progress) -> tuple[Any, bytes | None]:
    payload = job.payload
    progress(0.1, "Loading the road network")
    G = _road_graph()
    progress(0.3, "Adding the appointment and re-planning its days")
    out = add_appointment(
        _actor(job.username),
        str(payload["rep"]),
        int(payload["account_id"]),
        dt.datetime.fromisoformat(str(payload["when"])),
        G=G,
    )
    return {"rep": str(payload["rep"]), "changed": list(out["changed"])}, None


def _plan_day(job: JobState, progress: Progress) -> tuple[Any, bytes | None]:
    payload = job.payload
    progress(0.1, "Loading the road network")
    G = _road_graph()
    selected = [int(i) for i in payload["selected"]]
    progress(0.3, f"Planning {len(selected)} visits over {int(payload['days'])} days")
    plan = plan_day(
        _actor(job.username),
        str(payload["rep"]),
        dt.date.fromisoformat(str(payload["day"])),
        days=int(payload["days"]),
        selected=selected,
        G=G,
    )
    return plan.to_dict(), None


def _import_accounts(job: JobState, progress: Progress) -> tuple[Any, bytes | None]:
    payload = job.payload
    data = queue.input_file(job.id)
    if data is None:
        msg = f"job {job.id}: the uploaded file {payload.get('name')!r} is no longer stored"
        raise InputError(msg)
    raw = payload.get("mapping")
    mapping = (
        None if raw is None else {str(k): (None if v is None else str(v)) for k, v in raw.items()}
    )
    report = import_upload(
        _actor(job.username),
        data,
        str(payload["name"]),
        mapping=mapping,
        dry_run=bool(payload.get("dry_run", False)),
        progress=progress,
    )
    return report_to_dict(report), None


#: Job kinds and what runs them: ``(job, progress) -> (result, file)``.
HANDLERS: dict[str, Handler] = {
    "territories": _build_territories,
    "report": _report_file,
    "cycles": _plan_cycles,
    "cycle_appointment": _cycle_appointment,
    "day_plan": _plan_day,
    "import": _import_accounts,
}

#: Permission each kind needs (checked when the job is submitted and when it runs).
PERMISSIONS: dict[str, str] = {
    "territories": "territories",
    "report": "export",
    "cycles": "plan",
    "cycle_appointment": "plan",
    "day_plan": "plan",
    "import": "import",
}
