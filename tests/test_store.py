"""The store: filters, scope, edits, interactions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gcrm._errors import InputError, NotFoundError, PermissionDeniedError
from gcrm.auth import SYSTEM, actor_for
from gcrm.db.models import Account, AuditEvent
from gcrm.db.session import session_scope
from gcrm.store import (
    AccountFilter,
    accounts_frame,
    count_accounts,
    facets,
    get_account,
    interactions_frame,
    log_interaction,
    set_manual_pin,
    territories_frame,
    update_account,
)


def test_filters_match_a_plain_python_filter(demo_copy: str) -> None:
    """Each filter field selects exactly the rows a pandas filter on all rows selects."""
    with session_scope() as s:
        everything = accounts_frame(s, SYSTEM)
        e = everything
        in_box = e["lon"].between(24.93, 24.94) & e["lat"].between(60.16, 60.17)
        has_text = e["name"].str.lower().str.contains("kahvila") | e["street"].fillna(
            ""
        ).str.lower().str.contains("kahvila")
        cases = [
            (AccountFilter(kinds=["customer"]), e["kind"] == "customer"),
            (AccountFilter(stages=["won", "lost"]), e["stage"].isin(["won", "lost"])),
            (AccountFilter(segments=["Retail"]), e["segment"] == "Retail"),
            (AccountFilter(owners=["rep2"]), e["owner"] == "rep2"),
            (AccountFilter(territories=["Helsinki East"]), e["territory"] == "Helsinki East"),
            (AccountFilter(min_value=5000), e["potential_value"] >= 5000),
            (AccountFilter(bbox=(24.93, 60.16, 24.94, 60.17)), in_box),
            (AccountFilter(text="kahvila"), has_text),
            (AccountFilter(include_do_not_contact=False), ~e["do_not_contact"].astype(bool)),
        ]
        for flt, mask in cases:
            got = set(accounts_frame(s, SYSTEM, flt)["id"])
            assert got == set(everything.loc[mask, "id"]), flt
            assert count_accounts(s, SYSTEM, flt) == len(got)


def test_accounts_frame_is_a_geodataframe(demo_copy: str) -> None:
    """accounts_frame returns EPSG:4326 points matching lat/lon and names owner and territory."""
    with session_scope() as s:
        df = accounts_frame(s, actor_for(s, "rep1"))
    assert df.crs.to_epsg() == 4326
    assert (df.geometry.x - df["lon"]).abs().max() < 1e-9
    assert set(df["owner"]) | set(df["territory"]) >= {"rep1"} or set(df["territory"]) == {
        "Helsinki West"
    }


def test_rep_cannot_read_or_edit_outside_scope(demo_copy: str) -> None:
    """An account of another rep's territory is 'not found' for rep1, even by id."""
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        other = s.scalar(
            select(Account).where(
                Account.owner_id != rep1.id, Account.territory.has(name="Helsinki East")
            )
        )
        with pytest.raises(NotFoundError):
            get_account(s, rep1, other.id)
        with pytest.raises(NotFoundError):
            update_account(s, rep1, other.id, {"stage": "won"})
        assert other.id not in set(accounts_frame(s, rep1)["id"])
        assert other.id not in set(interactions_frame(s, rep1)["account_id"])


def test_analyst_cannot_edit(demo_copy: str) -> None:
    """Analysts read everything but may not edit."""
    with session_scope() as s:
        analyst = actor_for(s, "analyst")
        some = s.scalar(select(Account.id))
        get_account(s, analyst, some)
        with pytest.raises(PermissionDeniedError):
            update_account(s, analyst, some, {"stage": "won"})


def test_update_validates_and_audits(demo_copy: str) -> None:
    """Bad values name their field; a good edit is written with before/after in the audit log."""
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        aid = int(accounts_frame(s, rep1)["id"].iloc[0])
        with pytest.raises(InputError, match="stage"):
            update_account(s, rep1, aid, {"stage": "maybe"})
        with pytest.raises(InputError, match="potential_value"):
            update_account(s, rep1, aid, {"potential_value": -1})
        with pytest.raises(InputError, match="cannot edit"):
            update_account(s, rep1, aid, {"owner_id": 1})
        update_account(s, rep1, aid, {"stage": "negotiation", "potential_value": 123.0})
    with session_scope() as s:
        acc = s.get(Account, aid)
        assert acc.stage == "negotiation" and acc.potential_value == 123.0
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "edit")).all()[-1]
        assert ev.username == "rep1" and "negotiation" in ev.details


def test_log_visit_updates_last_visit(demo_copy: str) -> None:
    """Logging a visit records it and moves last_visit forward."""
    import datetime as dt

    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        aid = int(accounts_frame(s, rep1)["id"].iloc[0])
        when = dt.datetime(2030, 1, 2, 10, 0)
        log_interaction(
            s, rep1, aid, kind="visit", outcome="order", notes="Met the owner", occurred_at=when
        )
        with pytest.raises(InputError, match="kind"):
            log_interaction(s, rep1, aid, kind="fax")
    with session_scope() as s:
        assert s.get(Account, aid).last_visit == dt.date(2030, 1, 2)
        df = interactions_frame(s, actor_for(s, "rep1"), [aid])
        assert df.iloc[0]["outcome"] == "order" and df.iloc[0]["user"] == "rep1"


def test_manual_pin(demo_copy: str) -> None:
    """A hand-placed pin sets precision 'manual'; out-of-range pins are refused."""
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        aid = int(accounts_frame(s, rep1)["id"].iloc[0])
        with pytest.raises(InputError, match="pin"):
            set_manual_pin(s, rep1, aid, 95.0, 24.9)
        acc = set_manual_pin(s, rep1, aid, 60.1701, 24.9402)
        assert acc.manual_pin and acc.geocode_precision == "manual"
        assert acc.geom.x == pytest.approx(24.9402)


def test_facets_and_territories(demo_copy: str) -> None:
    """Facets list values present in scope; a rep sees only their territory."""
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        f = facets(s, rep1)
        assert set(f["kind"]) <= {"lead", "prospect", "customer"}
        t = territories_frame(s, rep1)
        assert list(t["name"]) == ["Helsinki West"]
        assert len(territories_frame(s, actor_for(s, "manager"))) == 3
