"""Campaign reports, mail-merge letters and the response map.

The report counts, per territory, postcode area or H3 hexagon, the accounts
reached (an e-mail accepted by SMTP or a suggested visit/call), those that
responded and those that converted, with Wilson score intervals so that a
small area's 2 out of 2 is not read as a sure 100 %. Every file leaves through
the audited export of :mod:`gcrm.reports`.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Literal

import folium
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from gcrm._errors import InputError
from gcrm.auth import Actor, require
from gcrm.campaigns import audience, get_campaign
from gcrm.db import campaign_tables as tables
from gcrm.maps import base_map, escape_html
from gcrm.reports import Export, audited_export, to_bytes
from gcrm.store import AccountFilter, accounts_frame

if TYPE_CHECKING:
    import networkx as nx
    from sqlalchemy.orm import Session

GroupBy = Literal["territory", "postcode", "hex"]

#: Columns of :func:`campaign_report`.
REPORT_COLUMNS: tuple[str, ...] = (
    "area",
    "reached",
    "responded",
    "converted",
    "response_rate",
    "response_low",
    "response_high",
    "conversion_rate",
    "conversion_low",
    "conversion_high",
)

#: Columns of the mail-merge file.
LETTER_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "street",
    "housenumber",
    "postcode",
    "city",
    "country",
)


def wilson_interval(successes: int, trials: int, *, z: float = 1.959964) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion (95 % by default).

    Parameters
    ----------
    successes, trials
        Counts (``0 <= successes <= trials``).
    z
        Normal quantile.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(0, 1)`` for no trials.
    """
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        msg = f"wilson_interval: successes {successes} not in 0..{trials}"
        raise InputError(msg)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _area_keys(frame: pd.DataFrame, by: GroupBy, resolution: int, digits: int) -> pd.Series:
    if by == "territory":
        return frame["territory"].fillna("(no territory)").astype(str)
    if by == "postcode":
        code = frame["postcode"].fillna("").astype(str).str.strip().str[:digits]
        return code.where(code != "", "(no postcode)")
    keys = [
        h3.latlng_to_cell(float(la), float(lo), resolution)
        if pd.notna(la) and pd.notna(lo)
        else "(not located)"
        for la, lo in zip(frame["lat"], frame["lon"], strict=True)
    ]
    return pd.Series(keys, index=frame.index)


def campaign_report(
    session: Session,
    actor: Actor,
    ref: int | str,
    *,
    by: GroupBy = "territory",
    resolution: int = 8,
    postcode_digits: int = 3,
) -> pd.DataFrame:
    """Return reach, response and conversion per area, with Wilson intervals.

    Parameters
    ----------
    session
        An open session.
    actor
        The reader (their scope applies to the accounts counted).
    ref
        The campaign.
    by
        ``territory``, ``postcode`` (area: the first ``postcode_digits``
        characters) or ``hex`` (H3 cell at ``resolution``).
    resolution, postcode_digits
        See ``by``.

    Returns
    -------
    pandas.DataFrame
        :data:`REPORT_COLUMNS`, largest reach first, then a ``(total)`` row.
    """
    if by not in ("territory", "postcode", "hex"):
        msg = f"by: {by!r} is not one of territory, postcode, hex"
        raise InputError(msg)
    campaign = get_campaign(session, actor, ref)
    outbox = tables.outbox_frame(session, campaign.id)
    tasks = tables.tasks_frame(session, campaign_id=campaign.id)
    reached = set(outbox.loc[outbox["status"] == "sent", "account_id"].astype(int))
    reached |= set(tasks["account_id"].astype(int))
    responses = tables.responses_frame(session, campaign.id)
    answered = responses[responses["kind"] != "unsubscribe"]
    responded = set(answered["account_id"].astype(int))
    converted = set(answered.loc[answered["converted"].astype(bool), "account_id"].astype(int))
    ids = sorted(reached | responded)
    frame = pd.DataFrame(
        accounts_frame(session, actor, AccountFilter(ids=ids)).drop(columns="geometry")
    )
    if not ids:
        frame = frame.iloc[0:0]
    frame["area"] = _area_keys(frame, by, resolution, postcode_digits)
    frame["reached"] = frame["id"].isin(reached | responded)
    frame["responded"] = frame["id"].isin(responded)
    frame["converted"] = frame["id"].isin(converted)
    grouped = frame.groupby("area")[["reached", "responded", "converted"]].sum().astype(int)
    total = pd.DataFrame(
        [grouped.sum().to_dict() if len(grouped) else dict.fromkeys(grouped.columns, 0)],
        index=pd.Index(["(total)"], name="area"),
    )
    grouped = grouped.sort_values(["reached", "responded"], ascending=False)
    out = pd.concat([grouped, total]).reset_index(names="area")
    for what in ("response", "conversion"):
        hits = out["responded" if what == "response" else "converted"]
        bounds = [
            wilson_interval(int(h), int(n)) for h, n in zip(hits, out["reached"], strict=True)
        ]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{what}_rate"] = np.where(out["reached"] > 0, hits / out["reached"], np.nan)
        out[f"{what}_low"] = [b[0] for b in bounds]
        out[f"{what}_high"] = [b[1] for b in bounds]
    return out[list(REPORT_COLUMNS)]


def export_campaign_report(
    session: Session,
    actor: Actor,
    ref: int | str,
    *,
    by: GroupBy = "territory",
    fmt: Literal["csv", "xlsx", "json"] = "csv",
) -> Export:
    """Export a campaign report (needs ``export``; audited)."""
    require(actor, "export")
    df = campaign_report(session, actor, ref, by=by)
    data = to_bytes(df, fmt, sheet="campaign")
    return audited_export(
        session, actor, data, f"campaign-{by}.{fmt}", len(df), df.columns, {"campaign": str(ref)}
    )


def _letters_pdf(frame: pd.DataFrame, body: str) -> bytes:
    # matplotlib is heavy: imported only for the PDF
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        for _, row in frame.iterrows():
            fig = plt.figure(figsize=(8.27, 11.69))
            street = " ".join(str(row[c]) for c in ("street", "housenumber") if pd.notna(row[c]))
            town = " ".join(str(row[c]) for c in ("postcode", "city") if pd.notna(row[c]))
            lines = [str(row["name"]), street, town]
            for i, line in enumerate(lines):
                fig.text(0.1, 0.85 - i * 0.025, line, fontsize=11)
            fig.text(0.1, 0.7, body, fontsize=11, va="top", wrap=True)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()


def export_letters(
    session: Session,
    actor: Actor,
    ref: int | str,
    *,
    fmt: Literal["csv", "xlsx", "pdf"] = "csv",
    G: nx.MultiDiGraph | None = None,
) -> Export:
    """Export the letter channel's members: a mail-merge file or a printable PDF.

    The members are the campaign's, under the one contact rule for letters
    (marketing consent), as the campaign's owner sees them; the reader needs
    ``export`` and the export is audited.
    """
    require(actor, "export")
    campaign = get_campaign(session, actor, ref)
    if "letter" not in campaign.channels.split(","):
        msg = f"campaign {campaign.name!r} has no letter channel"
        raise InputError(msg)
    frame = audience(session, campaign, "letter", G=G)[list(LETTER_COLUMNS)]
    if fmt == "pdf":
        data = _letters_pdf(frame, campaign.body)
    else:
        data = to_bytes(frame, fmt, sheet="letters")
    return audited_export(
        session,
        actor,
        data,
        f"letters-{campaign.id}.{fmt}",
        len(frame),
        frame.columns,
        {"campaign": campaign.name},
    )


def response_map(report: pd.DataFrame, *, resolution: int = 8) -> folium.Map:
    """Return a map of a hexagon report: cells coloured by response rate.

    Parameters
    ----------
    report
        :func:`campaign_report` with ``by="hex"``.
    resolution
        Unused (cells carry their own); kept for symmetry.

    Returns
    -------
    folium.Map
        One polygon per cell; its tooltip gives reach, responses and the
        Wilson interval.
    """
    cells = report[report["area"].map(lambda a: isinstance(a, str) and h3.is_valid_cell(a))]
    geoms = [shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(c)]) for c in cells["area"]]
    gdf = gpd.GeoDataFrame(cells.reset_index(drop=True), geometry=geoms, crs="EPSG:4326")
    if gdf.empty:
        return base_map()
    minx, miny, maxx, maxy = gdf.total_bounds
    m = base_map(bounds=[[miny, minx], [maxy, maxx]])
    for _, row in gdf.iterrows():
        rate = float(row["response_rate"]) if pd.notna(row["response_rate"]) else 0.0
        colour = f"#{int(255 * (1 - rate)):02x}{int(160 + 95 * rate):02x}60"
        tip = (
            f"{escape_html(row['area'])}: {int(row['responded'])}/{int(row['reached'])} responded "
            f"({row['response_low']:.0%}-{row['response_high']:.0%})"
        )
        folium.GeoJson(
            shapely.geometry.mapping(row.geometry),
            style_function=lambda _f, c=colour: {
                "fillColor": c,
                "color": "#444",
                "weight": 1,
                "fillOpacity": 0.6,
            },
            tooltip=tip,
            name="responses",
        ).add_to(m)
    return m
