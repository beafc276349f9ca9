"""The printable itinerary (HTML and PDF) and an offline route map (PNG).

The itinerary holds the same rows on the screen, in HTML and in PDF: every
stop with its address, the lunch break, the return to the end location, and
the visits not planned with the reason.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gcrm.network import road_lines
from gcrm.routing.export import GOOGLE_TRAVEL_MODES, google_maps_links
from gcrm.routing.plan import Plan, RoutePlan

if TYPE_CHECKING:
    import networkx as nx

#: Credit shown on every map drawn from OpenStreetMap data.
OSM_CREDIT = "© OpenStreetMap contributors"

__all__ = [
    "OSM_CREDIT",
    "ROW_COLUMNS",
    "itinerary_html",
    "itinerary_pdf",
    "itinerary_rows",
    "plan_stamp",
    "route_map_png",
]


def route_map_png(
    route: RoutePlan,
    *,
    G: nx.MultiDiGraph | None = None,
    width_px: int = 900,
    height_px: int = 700,
) -> bytes:
    """Draw a static map of a route offline (matplotlib, no tiles).

    Parameters
    ----------
    route
        The route (its geometry, or straight legs when it has none).
    G
        Road graph to draw as a thin grey background (optional).
    width_px, height_px
        Image size.

    Returns
    -------
    bytes
        A PNG image with numbered stops, the start and end, and the credit
        "© OpenStreetMap contributors".
    """
    # matplotlib is heavy to import: only when a map is drawn.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    rect = (0.02, 0.05, 0.96, 0.88)
    ax = fig.add_axes(rect)
    geom = route.geometry or [list(p) for p in route.points()]
    lats = np.array([p[0] for p in geom] + [p[0] for p in route.points()])
    lons = np.array([p[1] for p in geom] + [p[1] for p in route.points()])
    kx = max(math.cos(math.radians(float(np.mean(lats)))), 1e-6)  # metres per degree, x / y
    half_y = max(float(np.ptp(lats)) * 0.54, 0.0008)
    half_x = max(float(np.ptp(lons)) * 0.54, 0.0008 / kx)
    # Fill the axes: widen whichever side is short for the axes' shape.
    shape = (rect[2] * width_px) / (rect[3] * height_px)
    if half_x * kx / half_y < shape:
        half_x = half_y * shape / kx
    else:
        half_y = half_x * kx / shape
    cy, cx = (lats.min() + lats.max()) / 2, (lons.min() + lons.max()) / 2
    box = (cx - half_x, cx + half_x, cy - half_y, cy + half_y)
    if G is not None:
        _draw_streets(ax, G, box)
    ax.plot(
        [p[1] for p in geom],
        [p[0] for p in geom],
        color="#1f6fd1",
        linewidth=2.5,
        alpha=0.85,
        zorder=2,
    )
    ax.scatter([route.start_lon], [route.start_lat], marker="s", s=90, c="#2a9d2a", zorder=4)
    ax.scatter([route.end_lon], [route.end_lat], marker="D", s=70, c="#b22222", zorder=4)
    for n, s in enumerate(route.stops, start=1):
        color = "#888888" if s.status == "done" else "#f28c28"
        ax.scatter([s.lon], [s.lat], s=220, c=color, edgecolors="black", zorder=5)
        ax.annotate(
            str(n),
            (s.lon, s.lat),
            ha="center",
            va="center",
            fontsize=8,
            fontweight="bold",
            zorder=6,
        )
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect(1 / kx)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(
        f"{route.rep_name or route.rep} — {route.date.isoformat()}", fontsize=11, loc="left"
    )
    fig.text(0.99, 0.01, OSM_CREDIT, ha="right", va="bottom", fontsize=8, color="#333333")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _draw_streets(ax: Any, G: Any, box: tuple[float, float, float, float]) -> None:
    """Draw the roads of ``G`` with a vertex inside ``box`` as thin grey lines."""
    from matplotlib.collections import LineCollection  # heavy: see route_map_png

    lines = []
    for geom in road_lines(G).geometry:
        xy = list(geom.coords)
        if any(box[0] <= x <= box[1] and box[2] <= y <= box[3] for x, y in xy):
            lines.append(xy)
    ax.add_collection(LineCollection(lines, colors="#cccccc", linewidths=0.7, zorder=1))


ROW_COLUMNS = ("#", "arrive", "wait", "visit", "leave", "account", "address", "drive", "km")


def itinerary_rows(route: RoutePlan) -> list[dict[str, str]]:
    """Return the rows of a route's itinerary, as on the screen, in HTML and in PDF.

    Parameters
    ----------
    route
        The route.

    Returns
    -------
    list of dict
        In time order: one row per stop (``kind`` ``"stop"``), the lunch
        break (``"lunch"``) and the return to the end location (``"back"``);
        keys :data:`ROW_COLUMNS` plus ``kind`` and ``visit_id``.
    """
    rows: list[dict[str, str]] = []
    for n, s in enumerate(route.stops, start=1):
        rows.append(
            {
                "kind": "stop",
                "visit_id": s.visit_id,
                "#": str(n),
                "arrive": f"{s.arrival:%H:%M}",
                "wait": f"{round(s.wait_s / 60)} min",
                "visit": f"{s.start:%H:%M}–{s.end:%H:%M}",
                "leave": f"{s.departure:%H:%M}",
                "account": s.name + (" (done)" if s.status == "done" else ""),
                "address": s.address,
                "drive": f"{round(s.leg_duration_s / 60)} min",
                "km": f"{s.leg_distance_m / 1000:.1f}",
            }
        )
    rows.append(
        {
            "kind": "back",
            "visit_id": "",
            "#": "",
            "arrive": f"{route.arrival:%H:%M}",
            "wait": "",
            "visit": "",
            "leave": "",
            "account": "Back at the end location",
            "address": f"{route.end_lat:.5f}, {route.end_lon:.5f}",
            "drive": f"{round(route.return_leg_duration_s / 60)} min",
            "km": f"{route.return_leg_distance_m / 1000:.1f}",
        }
    )
    lunch = route.lunch
    if lunch is not None:
        label = "Lunch break" + (" (taken)" if lunch.place == "taken" else "")
        row = dict.fromkeys(ROW_COLUMNS, "")
        row.update(kind="lunch", visit_id="", visit=f"{lunch.start:%H:%M}–{lunch.end:%H:%M}")
        row["account"] = label
        if lunch.place == "end":
            rows.append(row)
        else:
            at = next(
                (i for i, s in enumerate(route.stops) if s.start >= lunch.end), len(route.stops)
            )
            rows.insert(at, row)
    return rows


def itinerary_html(plan: Plan, *, G: nx.MultiDiGraph | None = None, maps: bool = True) -> str:
    """Return a printable itinerary: per route a map, the stops and the totals.

    Parameters
    ----------
    plan
        The plan.
    G
        Road graph for the maps' street background (optional).
    maps
        Embed a static map per route (PNG, drawn offline).

    Returns
    -------
    str
        A standalone HTML page (no external resources): per route the rows of
        :func:`itinerary_rows`, then the visits not planned with the reason.
    """
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Itinerary</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:3px 6px;font-size:90%}"
        "th{background:#eee}.route{page-break-after:always}.small{color:#555;font-size:80%}"
        "</style></head><body>",
        f"<p class='small'>Prepared {plan_stamp(plan)}</p>",
    ]
    for r in plan.routes:
        parts.append("<div class='route'>")
        parts.append(f"<h2>{e(r.rep_name or r.rep)} — {e(r.date.isoformat())}</h2>")
        parts.append(f"<p>{e(_summary(r))}</p>")
        if maps:
            png = base64.b64encode(route_map_png(r, G=G)).decode("ascii")
            parts.append(
                f"<img alt='map of the route' style='max-width:100%' "
                f"src='data:image/png;base64,{png}'>"
            )
        head = "".join(f"<th>{e(c.capitalize())}</th>" for c in ROW_COLUMNS)
        parts.append(f"<table><tr>{head}</tr>")
        for row in itinerary_rows(r):
            cells = "".join(f"<td>{e(row[c])}</td>" for c in ROW_COLUMNS)
            parts.append(f"<tr class='{row['kind']}'>{cells}</tr>")
        parts.append("</table>")
        mode = GOOGLE_TRAVEL_MODES.get(plan.profile, "driving")
        for k, url in enumerate(google_maps_links(r, travel_mode=mode), start=1):
            parts.append(f"<p class='small'><a href='{e(url)}'>Directions, part {k}</a></p>")
        parts.append(f"<p class='small'>Map data {e(OSM_CREDIT)}.</p></div>")
    if plan.dropped:
        parts.append("<h2>Not planned</h2><table><tr><th>Visit</th><th>Reason</th></tr>")
        for d in plan.dropped:
            parts.append(f"<tr><td>{e(d.name or d.visit_id)}</td><td>{e(d.reason)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def plan_stamp(plan: Plan) -> str:
    """Return a line naming the plan's state (re-planned or not, and when)."""
    replanned = plan.stats.get("replanned")
    stamp = f"{plan.created:%d.%m.%Y %H:%M}"
    if replanned:
        return f"{stamp}; re-planned at {replanned.get('at', '')}"
    return stamp


def _summary(r: RoutePlan) -> str:
    return (
        f"Leave {r.departure:%H:%M}, back {r.arrival:%H:%M}; {len(r.stops)} visits, "
        f"drive {_hm(r.drive_s)}, {r.distance_m / 1000:.1f} km, work {_hm(r.work_s)}."
    )


def _hm(seconds: int) -> str:
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60:02d} min"


def itinerary_pdf(
    plan: Plan, path: str | Path | None = None, *, G: nx.MultiDiGraph | None = None
) -> bytes:
    """Return a printable itinerary as PDF (reportlab), as complete as the HTML one.

    Parameters
    ----------
    plan
        The plan.
    path
        Also write the PDF here.
    G
        Road graph for the maps' street background (optional).

    Returns
    -------
    bytes
        The PDF: per route a map and the rows of :func:`itinerary_rows`
        (addresses, lunch, return), then the visits not planned.
    """
    # reportlab is only needed for this export.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        Image,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    small = styles["Normal"].clone("small", fontSize=7.5, leading=9)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=1.2 * cm, rightMargin=1.2 * cm, title="Itinerary"
    )
    e = html.escape
    story: list[Any] = [Paragraph(e(f"Prepared {plan_stamp(plan)}"), small)]
    style = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )
    widths = [0.7, 1.1, 1.2, 2.0, 1.1, 4.4, 4.6, 1.3, 1.0]
    for k, r in enumerate(plan.routes):
        if k:
            story.append(PageBreak())
        story.append(Paragraph(f"{e(r.rep_name or r.rep)} — {r.date.isoformat()}", styles["h2"]))
        story.append(Paragraph(e(_summary(r)), styles["Normal"]))
        story.append(Spacer(1, 0.3 * cm))
        png = route_map_png(r, G=G, width_px=900, height_px=620)
        story.append(Image(io.BytesIO(png), width=17 * cm, height=17 * cm * 620 / 900))
        rows: list[list[Any]] = [[c.capitalize() for c in ROW_COLUMNS]]
        for row in itinerary_rows(r):
            rows.append([Paragraph(e(row[c]), small) for c in ROW_COLUMNS])
        table = Table(rows, colWidths=[w * cm for w in widths], repeatRows=1)
        table.setStyle(style)
        story.append(Spacer(1, 0.3 * cm))
        story.append(table)
        story.append(Spacer(1, 0.2 * cm))
        story.append(Paragraph(f"Map data {e(OSM_CREDIT)}.", styles["Italic"]))
    if not plan.routes:
        story.append(Paragraph("No routes planned.", styles["Normal"]))
    if plan.dropped:
        story.append(Spacer(1, 0.4 * cm))
        story.append(Paragraph("Not planned", styles["h2"]))
        rows = [["Visit", "Reason"]]
        rows += [
            [Paragraph(e(d.name or d.visit_id), small), Paragraph(e(d.reason), small)]
            for d in plan.dropped
        ]
        table = Table(rows, colWidths=[7 * cm, 10 * cm], repeatRows=1)
        table.setStyle(style)
        story.append(table)
    doc.build(story)
    pdf = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(pdf)
    return pdf
