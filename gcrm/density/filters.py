"""Which accounts a density map shows: :class:`MapFilter` and :func:`filtered_accounts`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gcrm._errors import InputError
from gcrm.store import AccountFilter, accounts_frame

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gcrm.auth import Actor


def _as_date(value: object, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        msg = f"{field}: {value!r} is not a date (YYYY-MM-DD)"
        raise InputError(msg) from None


def _as_bool(value: str, field: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "y", "on"):
        return True
    if v in ("0", "false", "no", "n", "off"):
        return False
    msg = f"{field}: {value!r} is not true or false"
    raise InputError(msg)


@dataclasses.dataclass(frozen=True)
class MapFilter(AccountFilter):
    """Which accounts a density map shows: a store filter that also applies itself in memory.

    A :class:`gcrm.store.AccountFilter` that can also filter a frame already
    read (:meth:`apply`) and parse the CLI's ``--filter`` (:meth:`parse`).
    Every field and its meaning come from :class:`~gcrm.store.AccountFilter`
    (kinds, stages, segments, owners, territories, bbox, text, potential value
    bounds, do-not-contact, ids, last-visit conditions); empty fields do not
    filter. The database applies them all (:meth:`account_filter`);
    :meth:`apply` applies the same conditions to rows already read.
    """

    #: ``key=value`` names :meth:`parse` accepts (lists are comma-separated).
    KEYS = (
        "kind",
        "stage",
        "segment",
        "owner",
        "territory",
        "min_value",
        "max_value",
        "visited_since",
        "not_visited_since",
        "never_visited",
        "do_not_contact",
    )

    @classmethod
    def parse(cls, items: Iterable[str]) -> MapFilter:
        """Build a filter from ``key=value`` strings (the CLI's ``--filter``).

        Parameters
        ----------
        items
            E.g. ``["kind=prospect,lead", "min_value=1000",
            "not_visited_since=2026-06-01", "do_not_contact=false"]``; a key
            given twice adds values (lists) or replaces them (single values).
            Keys: :attr:`KEYS`.

        Returns
        -------
        MapFilter
            The filter.

        Raises
        ------
        InputError
            On an unknown key or a value that does not parse.
        """
        lists: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for item in items:
            key, sep, raw = str(item).partition("=")
            key = key.strip().lower().replace("-", "_")
            if not sep or key not in cls.KEYS:
                msg = f"filter {item!r}: expected KEY=VALUE with KEY one of {', '.join(cls.KEYS)}"
                raise InputError(msg)
            raw = raw.strip()
            if key in ("kind", "stage", "segment", "owner", "territory"):
                lists.setdefault(key, []).extend(v.strip() for v in raw.split(",") if v.strip())
            elif key in ("min_value", "max_value"):
                try:
                    values[key] = float(raw)
                except ValueError:
                    msg = f"filter {key}: {raw!r} is not a number"
                    raise InputError(msg) from None
            elif key in ("visited_since", "not_visited_since"):
                values[key] = _as_date(raw, key)
            elif key == "never_visited":
                values[key] = _as_bool(raw, key)
            else:
                values["include_do_not_contact"] = _as_bool(raw, key)
        return cls(
            kinds=tuple(lists.get("kind", ())),
            stages=tuple(lists.get("stage", ())),
            segments=tuple(lists.get("segment", ())),
            owners=tuple(lists.get("owner", ())),
            territories=tuple(lists.get("territory", ())),
            **values,
        )

    def account_filter(self) -> AccountFilter:
        """Return this filter as the store's filter (the database applies every condition).

        Returns
        -------
        gcrm.store.AccountFilter
            A plain store filter with the same field values (the last-visit
            conditions are applied again by :meth:`apply`, with the same
            meaning).
        """
        names = [f.name for f in dataclasses.fields(AccountFilter)]
        return AccountFilter(**{name: getattr(self, name) for name in names})

    def apply(self, accounts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Return the rows of an accounts frame that pass every condition.

        Parameters
        ----------
        accounts
            Accounts as :func:`gcrm.store.accounts_frame` returns them.

        Returns
        -------
        geopandas.GeoDataFrame
            The matching rows, in order.
        """
        keep = np.ones(len(accounts), dtype=bool)
        for column, allowed in (
            ("kind", self.kinds),
            ("stage", self.stages),
            ("segment", self.segments),
            ("owner", self.owners),
            ("territory", self.territories),
            ("id", self.ids),
        ):
            if allowed:
                keep &= accounts[column].isin(list(allowed)).to_numpy()
        keep &= self._value_mask(accounts) & self._visit_mask(accounts)
        if not self.include_do_not_contact:
            keep &= ~accounts["do_not_contact"].fillna(False).astype(bool).to_numpy()
        if self.bbox is not None:
            keep &= _bbox_mask(accounts, self.bbox)
        if self.text:
            keep &= _text_mask(accounts, self.text)
        return accounts[keep]

    def _value_mask(self, accounts: pd.DataFrame) -> np.ndarray:
        """Rows within the potential-value bounds (a missing value fails any bound)."""
        keep = np.ones(len(accounts), dtype=bool)
        value = pd.to_numeric(accounts["potential_value"], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            if self.min_value is not None:
                keep &= value >= self.min_value
            if self.max_value is not None:
                keep &= value <= self.max_value
        return keep

    def _visit_mask(self, accounts: pd.DataFrame) -> np.ndarray:
        """Rows that pass the last-visit conditions."""
        keep = np.ones(len(accounts), dtype=bool)
        last = _last_visits(accounts)
        never = np.isnat(last)
        if self.never_visited is not None:
            keep &= never if self.never_visited else ~never
        if self.visited_since is not None:
            keep &= ~never & (last >= np.datetime64(self.visited_since, "D"))
        if self.not_visited_since is not None:
            keep &= never | (last < np.datetime64(self.not_visited_since, "D"))
        return keep


#: Columns :attr:`gcrm.store.AccountFilter.text` searches.
_TEXT_COLUMNS = ("name", "street", "city", "external_id")


def _bbox_mask(accounts: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Rows whose point lies in ``(min_lon, min_lat, max_lon, max_lat)`` (EPSG:4326)."""
    frame = accounts.to_crs(4326) if accounts.crs is not None else accounts
    geoms = np.asarray(frame.geometry.values, dtype=object)
    lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    min_lon, min_lat, max_lon, max_lat = bbox
    with np.errstate(invalid="ignore"):
        out: np.ndarray = (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    return out


def _text_mask(accounts: pd.DataFrame, text: str) -> np.ndarray:
    """Rows with ``text`` (case-insensitive) in their name, street, city or external id."""
    needle = text.strip().lower()
    keep = np.zeros(len(accounts), dtype=bool)
    for column in _TEXT_COLUMNS:
        if column in accounts.columns:
            values = accounts[column].astype("string").str.lower()
            keep |= values.str.contains(needle, regex=False).fillna(False).to_numpy(bool)
    return keep


def _last_visits(accounts: pd.DataFrame) -> np.ndarray:
    """``last_visit`` as ``datetime64[D]`` (NaT: never visited)."""
    if "last_visit" not in accounts.columns:
        return np.full(len(accounts), np.datetime64("NaT"), dtype="datetime64[D]")
    out: np.ndarray = (
        pd.to_datetime(accounts["last_visit"], errors="coerce").to_numpy().astype("datetime64[D]")
    )
    return out


def filtered_accounts(
    session: Session, actor: Actor, flt: MapFilter | None = None
) -> gpd.GeoDataFrame:
    """Return the accounts in the actor's scope that pass a map filter.

    Parameters
    ----------
    session
        An open session.
    actor
        The acting user; their scope applies.
    flt
        The filter (``None``: every account in scope).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`gcrm.store.accounts_frame` returns it.
    """
    flt = flt or MapFilter()
    return flt.apply(accounts_frame(session, actor, flt.account_filter()))
