"""What the Reports page reads."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.reports import TerritoryReport, rep_report, territory_report

#: Above this many located prospects and customers in scope the page leaves the
#: white-space figure out: it is the one figure that reads every such account
#: (and drives to each); the territory report file (written by a worker) has it.
PAGE_WHITE_SPACE_LIMIT = 20_000


def report_figures(actor: Actor, *, graph: Any) -> tuple[TerritoryReport, pd.DataFrame]:
    """Return the territory report and the rep report over the actor's accounts.

    The figures are database aggregates (see :func:`gcrm.reports.territory_report`),
    so the page costs the same few rows at a million accounts as at the demo's
    size; white space is left out above :data:`PAGE_WHITE_SPACE_LIMIT`.

    Parameters
    ----------
    actor
        The acting user (scope applies).
    graph
        The road network for the drive-time and white-space figures (see
        :func:`gcrm.reports.territory_report`).

    Returns
    -------
    tuple
        ``(territory report, rep report)``.
    """
    with session_scope() as session:
        report = territory_report(
            session, actor, graph=graph, white_space_limit=PAGE_WHITE_SPACE_LIMIT
        )
        return report, rep_report(session, actor)
