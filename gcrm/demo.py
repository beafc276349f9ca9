"""The demo CRM, built from the region's OSM extract (the bundled Helsinki by default).

The region's named businesses with their real addresses and opening hours
(about 1,400 in Helsinki) become accounts; on another extract
(``GCRM_OSM_FILE``) the reps' and manager's homes are real address points
inside that region and the town and country come from its addresses; kind,
stage, segment, potential value, owner and last visit are drawn with a fixed
seed. Six users (``admin``, ``manager``, ``analyst``, ``rep1``-``rep3``) share
the password ``GCRM_DEMO_PASSWORD`` (default ``demo``).
Building it again changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, box
from sqlalchemy.orm import Session

from gcrm._errors import InputError
from gcrm.auth import hash_password
from gcrm.db import seed
from gcrm.db.models import Precision, Region, Role, Territory, User, point_wkt
from gcrm.db.session import database_is_current, session_scope, upgrade_database
from gcrm.osm import read_address_points, read_businesses
from gcrm.settings import get_settings
from gcrm.territories import build_territories
from gcrm.territory_rule import holding_territory

SEED = 20261124
_MIN_BUSINESSES = 20
REGION_NAME = "Helsinki centre"
#: (username, display name, role, home lat, home lon)
DEMO_USERS: tuple[tuple[str, str, str, float | None, float | None], ...] = (
    ("admin", "Ada Admin", Role.ADMIN.value, None, None),
    ("manager", "Maija Manager", Role.MANAGER.value, 60.1699, 24.9384),
    ("analyst", "Antti Analyst", Role.ANALYST.value, None, None),
    ("rep1", "Riikka Rep", Role.REP.value, 60.1675, 24.9310),
    ("rep2", "Ville Rep", Role.REP.value, 60.1700, 24.9420),
    ("rep3", "Sanna Rep", Role.REP.value, 60.1665, 24.9530),
)
TERRITORY_NAMES = ("Helsinki West", "Helsinki Centre", "Helsinki East")

_SEGMENTS = {
    "amenity=restaurant": "Food & drink",
    "amenity=cafe": "Food & drink",
    "amenity=bar": "Food & drink",
    "amenity=pub": "Food & drink",
    "amenity=fast_food": "Food & drink",
    "amenity=nightclub": "Food & drink",
    "amenity=ice_cream": "Food & drink",
    "amenity=pharmacy": "Health",
    "amenity=dentist": "Health",
    "amenity=doctors": "Health",
    "amenity=clinic": "Health",
    "amenity=bank": "Finance",
}
_SEGMENT_BY_KEY = {
    "shop": "Retail",
    "office": "Professional services",
    "craft": "Crafts",
    "tourism": "Hospitality",
    "healthcare": "Health",
    "amenity": "Public & services",
}
_FIRST = ("Aino", "Eero", "Helmi", "Juha", "Kaisa", "Lauri", "Mikko", "Noora", "Oskari", "Pia")
_LAST = ("Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Heikkinen")
_OUTCOMES = ("order", "follow-up", "no decision", "not interested", "demo booked")


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What the demo holds after :func:`build_demo` ran."""

    users: int
    territories: int
    accounts: int
    contacts: int
    interactions: int
    created: bool


def _segment(category: str) -> str:
    if category in _SEGMENTS:
        return _SEGMENTS[category]
    return _SEGMENT_BY_KEY.get(category.split("=", 1)[0], "Other")


def _valid_opening_hours(text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    import opening_hours

    try:
        opening_hours.OpeningHours(text)
    except Exception:
        return None
    return text


def _fill_addresses(biz: pd.DataFrame, addresses: pd.DataFrame) -> pd.DataFrame:
    """Give businesses without addr:* tags the address of the nearest address point."""
    biz = biz.copy()
    pts = addresses.dropna(subset=["addr:street"]).reset_index(drop=True)
    scale = np.cos(np.radians(float(pts["lat"].median()) if len(pts) else 60.17))
    tree = cKDTree(np.c_[pts["lon"] * scale, pts["lat"]])
    _, idx = tree.query(np.c_[biz["lon"] * scale, biz["lat"]])
    near = pts.iloc[idx].reset_index(drop=True)
    for key in ("addr:street", "addr:housenumber", "addr:postcode", "addr:city"):
        missing = biz[key].isna().to_numpy().copy()
        if key != "addr:street":
            # only borrow postcode/city/number when the street is borrowed too,
            # or when the business's own street matches the neighbour's
            same_street = (biz["addr:street"].fillna("") == near["addr:street"]).to_numpy()
            missing &= same_street | biz["addr:street"].isna().to_numpy()
        biz.loc[missing, key] = near.loc[missing, key].to_numpy()
    biz["addr:city"] = biz["addr:city"].fillna(_most_common(addresses, "addr:city", "Helsinki"))
    return biz


def _territory_polygons(
    biz: pd.DataFrame,
    bounds: tuple[float, float, float, float],
    homes: dict[str, tuple[float, float]],
) -> list[MultiPolygon]:
    """Three contiguous territories, balanced on the businesses, seeded at the reps' homes.

    The same builder managers use (:func:`gcrm.territories.build_territories`),
    on straight-line distances (the demo loads no road network): each
    business counts as one account with the same visit workload.
    """
    import geopandas as gpd

    points = gpd.GeoDataFrame(
        {
            "id": np.arange(len(biz)),
            "visit_minutes": 30,
            "visit_every_days": 60,
            "do_not_contact": False,
            "potential_value": 1.0,
        },
        geometry=gpd.points_from_xy(biz["lon"], biz["lat"]),
        crs=4326,
    )
    seeds = pd.DataFrame(
        [{"owner": u, "lat": homes[u][0], "lon": homes[u][1]} for u in ("rep1", "rep2", "rep3")]
    )
    plan = build_territories(
        points, seeds, 3, region=box(*bounds), names=TERRITORY_NAMES, time_limit_s=10.0
    )
    out = []
    for geom in plan.territories.sort_values("name", key=lambda c: c.map(TERRITORY_NAMES.index))[
        "geometry"
    ]:
        out.append(geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom]))
    return out


def _most_common(frame: pd.DataFrame, column: str, default: str | None) -> str | None:
    """Return the region's most common value of a tag (its town, its country)."""
    if column not in frame.columns:
        return default
    counts = frame[column].dropna().astype(str).value_counts()
    return str(counts.index[0]) if len(counts) else default


def _homes_inside(
    addresses: pd.DataFrame, bounds: tuple[float, float, float, float]
) -> dict[str, tuple[float, float]]:
    """Return homes for the demo's reps and manager inside the region.

    Used when the built-in Helsinki homes lie outside it: real address points
    spread west to east.
    """
    minx, miny, maxx, maxy = bounds
    inside = [
        u for u in DEMO_USERS if u[3] is not None and minx <= (u[4] or 0) <= maxx
        and miny <= u[3] <= maxy
    ]  # fmt: skip
    if len(inside) == sum(u[3] is not None for u in DEMO_USERS) or addresses.empty:
        return {}
    pts = addresses[addresses["lon"].between(minx, maxx) & addresses["lat"].between(miny, maxy)]
    if pts.empty:
        return {}
    lat_mid = float(pts["lat"].median())
    scale = np.cos(np.radians(lat_mid))
    tree = cKDTree(np.c_[pts["lon"].to_numpy() * scale, pts["lat"].to_numpy()])
    share = {"rep1": 0.2, "manager": 0.5, "rep2": 0.5, "rep3": 0.8}
    out: dict[str, tuple[float, float]] = {}
    for username, q in share.items():
        lon = float(pts["lon"].quantile(q))
        _, i = tree.query([lon * scale, lat_mid])
        row = pts.iloc[int(i)]
        out[username] = (float(row["lat"]), float(row["lon"]))
    return out


def build_demo(session: Session, osm_file: str | Path | None = None) -> DemoSummary:
    """Create the demo users, region, territories, accounts and history.

    Parameters
    ----------
    session
        An open session; the caller commits.
    osm_file
        The OSM extract (default: the settings' region, the bundled Helsinki).

    Returns
    -------
    DemoSummary
        Counts after the run; ``created`` is ``False`` when the demo was
        already there and nothing changed.
    """
    password = get_settings().demo_password
    existing_users = seed.users_by_name(session)
    demo_accounts = seed.count_accounts(session, source="demo")
    created = False

    region = seed.region_named(session, REGION_NAME)
    biz = read_businesses(osm_file)
    if len(biz) < _MIN_BUSINESSES:
        msg = (
            f"the demo is built from the region's named businesses, and this OSM extract has "
            f"{len(biz)} (at least {_MIN_BUSINESSES} needed): use an extract with shops and "
            "offices, or the bundled Helsinki one (unset GCRM_OSM_FILE)"
        )
        raise InputError(msg)
    bounds = (
        float(biz["lon"].min()) - 0.001,
        float(biz["lat"].min()) - 0.001,
        float(biz["lon"].max()) + 0.001,
        float(biz["lat"].max()) + 0.001,
    )
    if region is None:
        region = Region(name=REGION_NAME, geom=MultiPolygon([box(*bounds)]))
        seed.add_rows(session, [region])
        created = True

    homes = _homes_inside(read_address_points(osm_file), bounds)
    new_users = []
    for username, display, role, lat0, lon0 in DEMO_USERS:
        lat, lon = homes.get(username, (lat0, lon0))
        if username in existing_users:
            continue
        pw_hash = hash_password(password)  # a fresh random salt per user
        user = User(
            username=username,
            display_name=display,
            role=role,
            email=f"{username}@demo.gcrm.invalid",
            password_hash=pw_hash,
            region_id=region.id if role in (Role.REP.value, Role.MANAGER.value) else None,
            home_lat=lat,
            home_lon=lon,
            home_geom=shapely.Point(lon, lat) if lat is not None and lon is not None else None,
            work_start="08:00",
            work_end="16:00",
        )
        new_users.append(user)
        existing_users[username] = user
        created = True
    seed.add_rows(session, new_users)

    reps = [existing_users[f"rep{i}"] for i in (1, 2, 3)]
    seeds = {
        r.username: (r.home_lat, r.home_lon)
        for r in reps
        if r.home_lat is not None and r.home_lon is not None
    }
    polygons = _territory_polygons(biz, bounds, seeds)
    territories = []
    new_territories = []
    for name, rep, poly in zip(TERRITORY_NAMES, reps, polygons, strict=True):
        terr = seed.territory_named(session, name)
        if terr is None:
            terr = Territory(name=name, region_id=region.id, owner_id=rep.id, geom=poly)
            new_territories.append(terr)
            created = True
        territories.append(terr)
    seed.add_rows(session, new_territories)

    if not demo_accounts:
        _add_accounts(session, biz, territories, reps, osm_file)
        created = True
    return DemoSummary(**seed.table_counts(session, source="demo"), created=created)


def _holders(territories: list[Territory], lon: np.ndarray, lat: np.ndarray) -> list[int | None]:
    """Index of the territory holding each point by the one rule (``None``: outside all).

    :func:`gcrm.territory_rule.holding_territory`, as imports and territory
    assignment use it: a point on a shared border goes to the first name.
    """
    return holding_territory([t.name for t in territories], [t.geom for t in territories], lon, lat)


def _add_accounts(
    session: Session,
    biz: pd.DataFrame,
    territories: list[Territory],
    reps: list[User],
    osm_file: str | Path | None,
) -> None:
    rng = np.random.default_rng(SEED)
    addresses = read_address_points(osm_file)
    biz = _fill_addresses(biz, addresses).reset_index(drop=True)
    town = _most_common(addresses, "addr:city", "Helsinki")
    country = _most_common(addresses, "addr:country", "FI")
    today = dt.date.today()
    n = len(biz)
    kinds = rng.choice(["lead", "prospect", "customer"], size=n, p=[0.2, 0.5, 0.3])
    holders = _holders(territories, biz["lon"].to_numpy(float), biz["lat"].to_numpy(float))
    rows: list[dict[str, Any]] = []
    for i, b in biz.iterrows():
        kind = str(kinds[i])
        if kind == "lead":
            stage = str(rng.choice(["new", "contacted"]))
        elif kind == "prospect":
            stage = str(rng.choice(["contacted", "qualified", "proposal", "negotiation", "lost"]))
        else:
            stage = "won"
        terr_idx = holders[i]
        last_visit = None
        if kind != "lead" and rng.random() < 0.8:
            last_visit = today - dt.timedelta(days=int(rng.integers(1, 180)))
        every = {"customer": int(rng.choice([30, 60, 90])), "prospect": 60}.get(kind)
        potential = float(np.round(rng.lognormal(mean=8.5, sigma=0.9), -1))
        phone = b.get("phone") if isinstance(b.get("phone"), str) else b.get("contact:phone")
        rows.append(
            {
                "external_id": f"osm-{b.osm_type}-{b.osm_id}",
                "name": str(b["name"])[:300],
                "kind": kind,
                "stage": stage,
                "segment": _segment(str(b.category)),
                "owner_id": reps[terr_idx].id if terr_idx is not None else None,
                "territory_id": territories[terr_idx].id if terr_idx is not None else None,
                "street": b["addr:street"] if isinstance(b["addr:street"], str) else None,
                "housenumber": b["addr:housenumber"]
                if isinstance(b["addr:housenumber"], str)
                else None,
                "postcode": b["addr:postcode"] if isinstance(b["addr:postcode"], str) else None,
                "city": b["addr:city"] if isinstance(b["addr:city"], str) else town,
                "country": country,
                "lat": float(b.lat),
                "lon": float(b.lon),
                "geom": point_wkt(b.lat, b.lon),
                "geocode_precision": Precision.PROVIDED.value,
                "geocode_score": 1.0,
                "geocode_source": "osm",
                "manual_pin": False,
                "phone": phone[:50] if isinstance(phone, str) else None,
                "email": None,
                "potential_value": potential,
                "annual_revenue": float(np.round(potential * rng.uniform(2, 6), -2))
                if kind == "customer"
                else None,
                "opening_hours": _valid_opening_hours(b.get("opening_hours")),
                "visit_minutes": int(rng.choice([20, 30, 30, 45, 60])),
                "visit_every_days": every,
                "last_visit": last_visit,
                "do_not_contact": bool(rng.random() < 0.03),
                "marketing_consent": bool(rng.random() < 0.4),
                "source": "demo",
            }
        )
    ids = seed.insert_accounts(session, rows, source="demo")
    contacts = []
    interactions = []
    for row in rows:
        aid = ids[row["external_id"]]
        if rng.random() < 0.35:
            first, last = str(rng.choice(_FIRST)), str(rng.choice(_LAST))
            slug = f"{first}.{last}".lower().replace("ä", "a").replace("ö", "o")
            contacts.append(
                {
                    "account_id": aid,
                    "name": f"{first} {last}",
                    "role": str(rng.choice(["Owner", "Manager", "Buyer"])),
                    "phone": f"+358 40 {rng.integers(1000000, 9999999)}",
                    "email": f"{slug}@example.com",
                    "do_not_contact": row["do_not_contact"],
                    "marketing_consent": row["marketing_consent"],
                }
            )
        if row["last_visit"] is not None:
            owner = row["owner_id"]
            visits = [row["last_visit"]]
            visits += [
                row["last_visit"] - dt.timedelta(days=int(d))
                for d in rng.integers(20, 200, size=int(rng.integers(0, 2)))
            ]
            for day in visits:
                interactions.append(
                    {
                        "account_id": aid,
                        "user_id": owner,
                        "kind": "visit",
                        "occurred_at": dt.datetime.combine(
                            day, dt.time(9 + int(rng.integers(0, 7)))
                        ),
                        "outcome": str(rng.choice(_OUTCOMES)),
                        "notes": None,
                    }
                )
    seed.insert_history(session, contacts, interactions)


def prepare_database(*, load_demo: bool = True) -> DemoSummary | None:
    """Bring the schema up to date and, on an empty database, load the demo.

    The app calls this once at start-up.

    Parameters
    ----------
    load_demo
        Build the demo when the database has no users.

    Returns
    -------
    DemoSummary or None
        The demo's counts when it was built, else ``None``.
    """
    if not database_is_current():
        upgrade_database()
    with session_scope() as session:
        empty = not seed.count_users(session)
        if load_demo and empty:
            return build_demo(session)
    return None
