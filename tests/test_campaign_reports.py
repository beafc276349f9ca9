"""Campaign report (Wilson intervals, areas), audited exports, letters and the map."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from pypdf import PdfReader

from gcrm._errors import PermissionDeniedError
from gcrm.auth import actor_for
from gcrm.campaign_reports import (
    campaign_report,
    export_campaign_report,
    export_letters,
    response_map,
    wilson_interval,
)
from gcrm.campaigns import create_campaign, launch, log_response
from gcrm.db.models import AuditEvent
from gcrm.db.session import session_scope
from gcrm.segments import SegmentDefinition, save_segment
from tests._campaign_world import build_world


def test_wilson_interval_known_values() -> None:
    # Wilson (1927) / Newcombe (1998) table: 0/10 -> (0, 0.2775), 10/10 -> (0.7225, 1)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == pytest.approx(1)
    lo, hi = wilson_interval(81, 263)
    assert (lo, hi) == (pytest.approx(0.2553, abs=1e-3), pytest.approx(0.3662, abs=1e-3))
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.fixture
def campaign(db: str) -> dict:
    with session_scope() as s:
        w = build_world(s)
        mgr = actor_for(s, "mgr")
        save_segment(s, mgr, "all", SegmentDefinition())
        c = create_campaign(
            s, mgr, name="Visits", segment="all", channels="visit,letter", body="Dear customer"
        )
        launch(s, mgr, c.id)
        rep = actor_for(s, "rep")
        ids = w["ids"]
        log_response(s, rep, c.id, ids["Café Aalto"], kind="visit", outcome="order", converted=True)
        log_response(s, rep, c.id, ids["Kirja Oy"], kind="call", outcome="no decision")
        w["cid"] = c.id
    return w


def test_report_counts_by_territory_and_postcode(campaign: dict) -> None:
    with session_scope() as s:
        mgr = actor_for(s, "mgr")
        by_terr = campaign_report(s, mgr, campaign["cid"], by="territory")
        by_post = campaign_report(s, mgr, campaign["cid"], by="postcode", postcode_digits=5)
        by_hex = campaign_report(s, mgr, campaign["cid"], by="hex", resolution=9)
    # visits: every contactable account in mgr's scope (8 in T1 minus do-not-contact)
    t1 = by_terr[by_terr["area"] == "T1"].iloc[0]
    assert (t1["reached"], t1["responded"], t1["converted"]) == (7, 2, 1)
    assert t1["response_low"] < 2 / 7 < t1["response_high"]
    assert "T2" not in set(by_terr["area"])  # the other region's account is never reached
    assert by_post.loc[by_post["area"] != "(total)", "reached"].sum() == 7
    assert by_hex.iloc[-1]["area"] == "(total)" and by_hex.iloc[-1]["reached"] == 7
    m = response_map(by_hex)
    html = m.get_root().render()
    assert "responded" in html


def test_exports_are_audited_and_letters_need_consent(campaign: dict) -> None:
    with session_scope() as s:
        mgr = actor_for(s, "mgr")
        export = export_campaign_report(s, mgr, campaign["cid"], by="territory", fmt="csv")
        letters = export_letters(s, mgr, campaign["cid"], fmt="csv")
        pdf = export_letters(s, mgr, campaign["cid"], fmt="pdf")
        with pytest.raises(PermissionDeniedError):
            export_letters(s, actor_for(s, "rep"), campaign["cid"], fmt="csv")
        audits = [
            (a.action, a.target, json.loads(a.details or "{}"))
            for a in s.query(AuditEvent).filter(AuditEvent.action == "export")
        ]
    frame = pd.read_csv(io.BytesIO(letters.data), encoding="utf-8-sig")
    # letters are marketing: consent required; no do-not-contact, no other region
    names = set(frame["name"])
    assert "No Consent Oy" not in names and "Never Ltd" not in names and "South Oy" not in names
    assert "Café Aalto" in names and len(frame) == 6
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) == 6
    assert {t for _, t, _ in audits} >= {export.filename, letters.filename, pdf.filename}
    assert all(d["sha256"] for _, _, d in audits)


def test_import_responses_all_or_nothing(campaign: dict) -> None:
    from gcrm._errors import InputError
    from gcrm.campaigns import import_responses
    from gcrm.db import campaign_tables as tables

    good = "External_ID;kind;converted;value\n".replace(";", ",") + "x3,order,,120,5\n"
    bad = "external_id,kind\nx4,reply\nx9,reply\n"  # x9 is in the other region
    with session_scope() as s:
        mgr = actor_for(s, "mgr")
        with pytest.raises(InputError, match=r"replies.csv, row 3, external_id: 'x9'"):
            import_responses(s, mgr, campaign["cid"], bad.encode(), filename="replies.csv")
        assert len(tables.responses_frame(s, campaign["cid"])) == 2  # nothing added
        with pytest.raises(InputError, match="row 2, value"):
            import_responses(s, mgr, campaign["cid"], b"external_id,value\nx3,lots\n")
        n = import_responses(s, mgr, campaign["cid"], good.replace("120,5", '"120,5"').encode())
        assert n == 1
        frame = tables.responses_frame(s, campaign["cid"])
    row = frame[frame["kind"] == "order"].iloc[0]
    assert bool(row["converted"]) and row["value"] == 120.5
