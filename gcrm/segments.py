"""Segments: saved, re-evaluable selections of accounts for campaigns.

A :class:`SegmentDefinition` combines account filters, territories, a drawn
area (GeoJSON, as the map's lasso returns it) and a drive-time area from a
point. :func:`members` evaluates it anew for an acting user and a channel:
the store applies the user's scope and the one contact rule
(:func:`gcrm.store.contact_rule`) in SQL, then the area and drive-time tests
(the map selection and drive times of :mod:`gcrm.density`) narrow the result.
Members are therefore always a subset of what the store returns.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import Actor
from gcrm.db import campaign_tables as tables
from gcrm.density import nearest_drive_times, select_accounts
from gcrm.store import AccountFilter, audience_frame, audit, email_recipients_frame

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

    from gcrm.db.models import Segment


@dataclasses.dataclass(frozen=True)
class DriveArea:
    """Accounts within ``minutes`` of driving from ``(lat, lon)``."""

    lat: float
    lon: float
    minutes: float

    def __post_init__(self) -> None:
        """Reject impossible points and budgets."""
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            msg = f"drive area: ({self.lat}, {self.lon}) is not a latitude/longitude"
            raise InputError(msg)
        if not self.minutes > 0:
            msg = f"drive area: minutes must be positive, got {self.minutes}"
            raise InputError(msg)


@dataclasses.dataclass(frozen=True)
class SegmentDefinition:
    """What a segment selects; empty parts do not narrow it.

    Attributes
    ----------
    kinds, stages, segments, owners, territories
        Account filters (as :class:`gcrm.store.AccountFilter`).
    text
        Substring of name, street, city or external id.
    min_value, max_value
        Bounds on potential value.
    area
        A drawn area: a GeoJSON geometry, feature or feature collection
        (polygons, rectangles, circles with ``properties.radius``).
    drive
        A drive-time area.
    """

    kinds: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    text: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    area: Any = None
    drive: DriveArea | None = None

    def account_filter(self) -> AccountFilter:
        """Return the SQL part of the definition."""
        return AccountFilter(
            kinds=self.kinds,
            stages=self.stages,
            segments=self.segments,
            owners=self.owners,
            territories=self.territories,
            text=self.text,
            min_value=self.min_value,
            max_value=self.max_value,
            include_do_not_contact=False,
        )

    def to_json(self) -> str:
        """Serialise (the inverse of :meth:`from_json`)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> SegmentDefinition:
        """Read a definition from JSON text or a dict; unknown keys are an error.

        Raises
        ------
        InputError
            Naming the bad key or value.
        """
        data = json.loads(text) if isinstance(text, str) else dict(text)
        if not isinstance(data, dict):
            msg = "segment definition: expected a JSON object"
            raise InputError(msg)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"segment definition: unknown key(s) {', '.join(unknown)}"
            raise InputError(msg)
        drive = data.get("drive")
        if drive is not None:
            try:
                data["drive"] = DriveArea(
                    float(drive["lat"]), float(drive["lon"]), float(drive["minutes"])
                )
            except (KeyError, TypeError, ValueError) as exc:
                msg = f"segment definition: drive needs lat, lon and minutes ({exc})"
                raise InputError(msg) from exc
        for key in ("kinds", "stages", "segments", "owners", "territories"):
            value = data.get(key, ())
            if isinstance(value, str):
                value = [value]
            data[key] = tuple(str(v) for v in value)
        return cls(**data)


def members(
    session: Session,
    actor: Actor,
    definition: SegmentDefinition,
    *,
    channel: str,
    G: nx.MultiDiGraph | None = None,
) -> pd.DataFrame:
    """Return the accounts a segment reaches for a user and a channel.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user (their scope applies).
    definition
        The segment.
    channel
        ``email``, ``letter``, ``call`` or ``visit`` (the contact rule applies).
        For ``email`` the rows are addresses: the account's own and its
        contact persons' (:func:`gcrm.store.email_recipients_frame`), each
        address once.
    G
        Road graph, needed when the definition has a drive area.

    Returns
    -------
    pandas.DataFrame
        :data:`gcrm.store.AUDIENCE_COLUMNS` (``email``:
        :data:`gcrm.store.RECIPIENT_COLUMNS`), plus ``drive_s`` for a drive
        area, ordered by account id.

    Raises
    ------
    InputError
        If a drive area is given without a road graph.
    """
    flt = definition.account_filter()
    if channel == "email":
        frame = email_recipients_frame(session, actor, flt)
    else:
        frame = audience_frame(session, actor, flt, channel=channel)
    if definition.area is None and definition.drive is None:
        return _one_per_address(frame) if channel == "email" else frame
    frame = frame[frame["lat"].notna() & frame["lon"].notna()].reset_index(drop=True)
    if definition.area is not None:
        gdf = gpd.GeoDataFrame(
            frame,
            geometry=gpd.points_from_xy(frame["lon"].astype(float), frame["lat"].astype(float)),
            crs="EPSG:4326",
        )
        frame = pd.DataFrame(select_accounts(gdf, definition.area).drop(columns="geometry"))
        frame = frame.reset_index(drop=True)
    if definition.drive is not None:
        if G is None:
            msg = "a drive-time segment needs the road network"
            raise InputError(msg)
        d = definition.drive
        # one origin: nearest_drive_times gives drive_times' routes in linear time
        # (drive_times pairs every two locations on a shared street)
        times = nearest_drive_times(
            G, [d.lat], [d.lon], frame["lat"].astype(float), frame["lon"].astype(float)
        )
        frame = frame.assign(drive_s=times)
        frame = frame[np.asarray(times) <= d.minutes * 60.0].reset_index(drop=True)
    return _one_per_address(frame) if channel == "email" else frame


def _one_per_address(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the first row of each e-mail address (case and spaces ignored)."""
    key = frame["email"].astype(str).str.strip().str.lower()
    return frame.loc[~key.duplicated()].reset_index(drop=True)


def save_segment(
    session: Session, actor: Actor, name: str, definition: SegmentDefinition
) -> Segment:
    """Store a named segment (audited).

    Raises
    ------
    InputError
        If the name is empty or taken.
    """
    require_campaigner(actor)
    name = name.strip()
    if not name:
        msg = "segment name: must not be empty"
        raise InputError(msg)
    if tables.find_segment(session, name) is not None:
        msg = f"segment name: {name!r} already exists"
        raise InputError(msg)
    row = tables.add_segment(
        session, name=name, definition=definition.to_json(), created_by=actor.username
    )
    audit(session, actor, "segment", f"segment:{row.id}", {"name": name})
    return row


def load_segment(session: Session, ref: int | str) -> tuple[Segment, SegmentDefinition]:
    """Return a stored segment and its definition.

    Raises
    ------
    NotFoundError
        If there is no such segment.
    """
    row = tables.find_segment(session, ref)
    if row is None:
        msg = f"segment {ref!r} does not exist"
        raise NotFoundError(msg)
    return row, SegmentDefinition.from_json(row.definition)


#: Roles that may build segments and run campaigns.
CAMPAIGN_ROLES: frozenset[str] = frozenset({"manager", "admin", "system"})


def require_campaigner(actor: Actor) -> None:
    """Raise unless the actor's role may build segments and run campaigns."""
    if actor.role not in CAMPAIGN_ROLES:
        msg = f"user {actor.username!r} ({actor.role}) may not run campaigns"
        raise PermissionDeniedError(msg)
