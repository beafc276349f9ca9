"""What the Reports page reads."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcrm.auth import Actor
from gcrm.db.session import session_scope
from gcrm.reports import TerritoryReport, rep_report, territory_report


def report_figures(actor: Actor, *, graph: Any) -> tuple[TerritoryReport, pd.DataFrame]:
    """Return the territory report and the rep report over the actor's accounts.

    Parameters
    ----------
    actor
        The acting user (scope applies).
    graph
        The road network for the white-space figures (see
        :func:`gcrm.reports.territory_report`).

    Returns
    -------
    tuple
        ``(territory report, rep report)``.
    """
    with session_scope() as session:
        return territory_report(session, actor, graph=graph), rep_report(session, actor)
