"""Background jobs: ``gcrm jobs status ID`` and ``gcrm jobs cancel ID``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from gcrm.cli._common import LazyModule, Run, command, echo_json, group

if TYPE_CHECKING:
    from gcrm import jobs
    from gcrm.db.queue import JobState
else:
    jobs = LazyModule("gcrm.jobs")

jobs_app = group("jobs", "Background jobs: status and cancel.")


def _summary(state: JobState) -> dict[str, Any]:
    return {
        "job": state.id,
        "kind": state.kind,
        "user": state.username,
        "status": state.status,
        "progress": state.progress,
        "message": state.message,
    }


@command(jobs_app, "status")
def jobs_status(
    run: Run,
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
) -> None:
    """Print one of your jobs: kind, status, progress and message."""
    with run.session() as session:
        actor = run.login(session)
    echo_json(_summary(jobs.status(job_id, actor.username)))


@command(jobs_app, "cancel")
def jobs_cancel(
    run: Run,
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
) -> None:
    """Cancel a job: a queued one never runs, a running one stops and rolls back.

    Prints the job afterwards: ``cancelled``, or ``cancelling`` while its worker
    stops it. Its owner, an admin, or a manager of the owner's region may cancel.
    """
    with run.session() as session:
        actor = run.login(session)
    # After the login's transaction: the cancel writes in transactions of its own.
    echo_json(_summary(jobs.cancel(job_id, actor)))
