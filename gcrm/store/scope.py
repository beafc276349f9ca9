"""The account filter and the scoped query every account read starts from.

The scope rule itself lives in :func:`gcrm.auth.account_scope`; here it is
applied, together with an :class:`AccountFilter`, to the base query.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from shapely.geometry import Point
from sqlalchemy import ColumnElement, and_, func, or_, select

from gcrm.auth import Actor, account_scope, require
from gcrm.db.models import (
    Account,
    Territory,
    User,
)

#: Columns of :func:`accounts_frame`, in order.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "id",
    "external_id",
    "name",
    "kind",
    "stage",
    "segment",
    "owner",
    "territory",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
    "lat",
    "lon",
    "geocode_precision",
    "geocode_score",
    "manual_pin",
    "potential_value",
    "annual_revenue",
    "opening_hours",
    "visit_minutes",
    "visit_every_days",
    "last_visit",
    "do_not_contact",
    "marketing_consent",
    "duplicate_of_id",
)


@dataclasses.dataclass(frozen=True)
class AccountFilter:
    """Which accounts to list. Empty fields do not filter.

    Attributes
    ----------
    kinds, stages, segments
        Allowed values.
    owners, territories
        Usernames and territory names.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``.
    text
        Case-insensitive substring of name, street, city or external id.
    min_value, max_value
        Bounds on potential value.
    include_do_not_contact
        ``False`` drops do-not-contact accounts.
    ids
        Only these account ids.
    visited_since, not_visited_since
        Last visit on or after / never or before this day.
    never_visited
        ``True``: never visited; ``False``: visited at least once.
    """

    kinds: Sequence[str] = ()
    stages: Sequence[str] = ()
    segments: Sequence[str] = ()
    owners: Sequence[str] = ()
    territories: Sequence[str] = ()
    bbox: tuple[float, float, float, float] | None = None
    text: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    include_do_not_contact: bool = True
    ids: Sequence[int] = ()
    visited_since: dt.date | None = None
    not_visited_since: dt.date | None = None
    never_visited: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the SQL conditions of this filter (scope not included)."""
        conds: list[ColumnElement[bool]] = []
        if self.kinds:
            conds.append(Account.kind.in_(list(self.kinds)))
        if self.stages:
            conds.append(Account.stage.in_(list(self.stages)))
        if self.segments:
            conds.append(Account.segment.in_(list(self.segments)))
        if self.owners:
            conds.append(
                Account.owner_id.in_(select(User.id).where(User.username.in_(list(self.owners))))
            )
        if self.territories:
            conds.append(
                Account.territory_id.in_(
                    select(Territory.id).where(Territory.name.in_(list(self.territories)))
                )
            )
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            conds.append(
                and_(
                    Account.lon >= min_lon,
                    Account.lon <= max_lon,
                    Account.lat >= min_lat,
                    Account.lat <= max_lat,
                )
            )
        if self.text:
            pattern = f"%{self.text.strip().lower()}%"
            conds.append(
                or_(
                    func.lower(Account.name).like(pattern),
                    func.lower(Account.street).like(pattern),
                    func.lower(Account.city).like(pattern),
                    func.lower(Account.external_id).like(pattern),
                )
            )
        if self.min_value is not None:
            conds.append(Account.potential_value >= self.min_value)
        if self.max_value is not None:
            conds.append(Account.potential_value <= self.max_value)
        if not self.include_do_not_contact:
            conds.append(Account.do_not_contact.is_(False))
        if self.ids:
            conds.append(Account.id.in_(list(self.ids)))
        if self.visited_since is not None:
            conds.append(Account.last_visit >= self.visited_since)
        if self.not_visited_since is not None:
            conds.append(
                or_(Account.last_visit.is_(None), Account.last_visit < self.not_visited_since)
            )
        if self.never_visited is not None:
            never = Account.last_visit.is_(None)
            conds.append(never if self.never_visited else Account.last_visit.is_not(None))
        return conds


def point_geometry(lat: float | None, lon: float | None) -> Point | None:
    """Return the stored point of a location, ``None`` when not located.

    Parameters
    ----------
    lat, lon
        WGS84 degrees.

    Returns
    -------
    shapely.Point or None
        ``Point(lon, lat)``.
    """
    if lat is None or lon is None:
        return None
    return Point(float(lon), float(lat))


def _account_select(actor: Actor, flt: AccountFilter | None):  # type: ignore[no-untyped-def]
    require(actor, "view")
    stmt = select(Account).where(account_scope(actor))
    for cond in (flt or AccountFilter()).conditions():
        stmt = stmt.where(cond)
    return stmt


def _conditions(actor: Actor, flt: AccountFilter | None) -> list[ColumnElement[bool]]:
    require(actor, "view")
    return [account_scope(actor), *(flt or AccountFilter()).conditions()]
