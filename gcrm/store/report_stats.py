"""The report figures' aggregates within the actor's scope.

See :mod:`gcrm.db.report_aggregates`; the scope is the store's one filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd
from sqlalchemy.orm import Session

from gcrm.auth import Actor
from gcrm.db import report_aggregates
from gcrm.store.scope import AccountFilter, _conditions


def report_groups(
    session: Session, actor: Actor, flt: AccountFilter | None = None, *, today: dt.date
) -> pd.DataFrame:
    """Accounts, sums and coverage per territory, owner, kind, stage and segment, in scope.

    Returns
    -------
    pandas.DataFrame
        See :func:`gcrm.db.report_aggregates.account_groups`.
    """
    return report_aggregates.account_groups(session, _conditions(actor, flt), today=today)


def report_visits(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    since: Mapping[str, dt.date],
) -> pd.DataFrame:
    """Visits at the accounts in scope since given days, per territory.

    Returns
    -------
    pandas.DataFrame
        See :func:`gcrm.db.report_aggregates.visit_counts`.
    """
    return report_aggregates.visit_counts(session, _conditions(actor, flt), since=since)


def report_sample(
    session: Session,
    actor: Actor,
    flt: AccountFilter | None = None,
    *,
    positions: Mapping[int | None, Sequence[int]],
    region_positions: Sequence[int],
) -> pd.DataFrame:
    """Positions of located accounts in scope chosen by rank (the account list's order).

    Returns
    -------
    pandas.DataFrame
        See :func:`gcrm.db.report_aggregates.sample_points`.
    """
    return report_aggregates.sample_points(
        session, _conditions(actor, flt), positions=positions, region_positions=region_positions
    )


def report_last_activity(session: Session, actor: Actor) -> pd.DataFrame:
    """Each user's newest interaction at the accounts in scope.

    Returns
    -------
    pandas.DataFrame
        See :func:`gcrm.db.report_aggregates.last_activity`.
    """
    return report_aggregates.last_activity(session, _conditions(actor, None))
