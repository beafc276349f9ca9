"""The territory PDF: every column title, rounded figures with units, tables and
legends that fit, pages that render."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from gcrm.auth import actor_for
from gcrm.db.session import session_scope
from gcrm.reports import (
    SUMMARY_COLUMNS,
    SUMMARY_LABELS,
    export_report,
    territory_report,
)
from gcrm.reports.pdf import _charts

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def report_pdf(demo_copy: str) -> bytes:
    with session_scope() as s:
        return export_report(s, actor_for(s, "manager"), "territories", "pdf", today=TODAY).data


def test_summary_holds_every_column_title_and_rounded_figures(report_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(report_pdf))
    text = reader.pages[0].extract_text()
    flat = re.sub(r"\s+", " ", text)
    missing = [SUMMARY_LABELS[c][0] for c in SUMMARY_COLUMNS if SUMMARY_LABELS[c][0] not in flat]
    assert not missing, missing
    # No raw floats such as 0.5372820436525217 anywhere in the document.
    whole = " ".join(p.extract_text() for p in reader.pages)
    assert not re.search(r"(?<![\d.])\d+\.\d{4,}(?![\d.])", whole)
    assert "(€)" in flat and "(min)" in flat and "(%)" in flat and "(km²)" in flat


def _render(pdf: bytes, tmp_path, dpi: int = 40) -> list[np.ndarray]:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian package poppler-utils) is not installed")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(tmp_path / "p")], check=True)
    return [np.asarray(Image.open(p).convert("L")) for p in sorted(tmp_path.glob("p-*.png"))]


def test_pages_render_and_the_table_stays_inside_the_margins(report_pdf: bytes, tmp_path) -> None:
    """pdftoppm renders every page; nothing of the summary table touches the page edges."""
    pages = _render(report_pdf, tmp_path)
    assert len(pages) == len(PdfReader(io.BytesIO(report_pdf)).pages)
    first = pages[0]
    edge = max(2, first.shape[1] // 50)  # 2 % of the width on each side
    assert first[:, :edge].min() > 240 and first[:, -edge:].min() > 240
    assert first.min() < 100  # and the page has content


def test_many_territories_split_the_table_over_pages(demo_copy: str) -> None:
    """Ten territories do not squeeze into one table: the summary continues on a new page."""
    from gcrm.reports import territory_report_pdf

    with session_scope() as s:
        report = territory_report(s, actor_for(s, "manager"), today=TODAY, graph=None)
    base = report.summary.iloc[[0]]
    many = report.summary.iloc[[0] * 10].assign(territory=[f"T{i}" for i in range(10)])
    import pandas as pd

    report.summary = pd.concat([many, base], ignore_index=True)
    report.territories = report.territories.iloc[0:0]
    reader = PdfReader(io.BytesIO(territory_report_pdf(report)))
    first, second = (reader.pages[i].extract_text() for i in (0, 1))
    assert "(1/2)" in first and "(2/2)" in second
    assert "T0" in first and "T9" in second


def test_chart_legends_do_not_cover_the_charts(demo_copy: str) -> None:
    """Each legend lies beside its chart, inside the page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    with session_scope() as s:
        report = territory_report(s, actor_for(s, "manager"), today=TODAY, graph=None)
    names = [n for n in report.summary["territory"] if n != "Region"]
    fig = plt.figure(figsize=(8.27, 11.69))
    gs = GridSpec(3, 1, figure=fig, hspace=0.45, left=0.24, right=0.74, top=0.9, bottom=0.07)
    _charts(fig, [gs[0], gs[1], gs[2]], report, names)
    fig.canvas.draw()
    page = fig.bbox
    legends = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        legends += 1
        box = legend.get_window_extent()
        assert not box.overlaps(ax.get_window_extent()), ax.get_title()
        assert page.x0 <= box.x0 and box.x1 <= page.x1, ax.get_title()
    assert legends == 2
    plt.close(fig)


def test_display_summary_has_titles_with_units_and_rounded_figures(demo_copy: str) -> None:
    """The Reports page's table: 'Coverage (%)' 22, not coverage 0.2222222."""
    from gcrm.reports import display_summary

    with session_scope() as s:
        report = territory_report(s, actor_for(s, "manager"), today=TODAY, graph=None)
    shown = display_summary(report.summary)
    assert list(shown.columns) == [SUMMARY_LABELS[c][0] for c in SUMMARY_COLUMNS]
    cov = shown["Coverage (%)"].dropna()
    assert len(cov) and (cov == cov.round(0)).all() and cov.max() <= 100
    area = shown["Area (km²)"].dropna()
    assert (area == area.round(1)).all()
