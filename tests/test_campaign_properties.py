"""Property tests of campaign audiences: no e-mail, letter, call or visit is ever
addressed to a do-not-contact account, to an account outside the campaign owner's
scope, or (e-mail and letters) to one without marketing consent; and no e-mail to a
contact person who is do-not-contact, erased or without their own consent, or who
belongs to an account that may not be contacted.

Hypothesis builds worlds with the generator of :mod:`tests.test_scope_properties`
(regions, users of every role, territories, accounts), then draws for each account
its do-not-contact flag, marketing consent, e-mail and location, and up to two contact
persons with their own flags and e-mail, and for each world a
segment (kinds, territories and a drawn rectangle, each optional). For every user,
a campaign on all four channels is created and launched; its outbox rows, its tasks
and its letter list are compared with a pure-Python oracle (scope rules written out
independently in the scope tests; the contact rule written out here). Reps and
analysts must be refused. At least 10,000 generated accounts and 10,000
(user, account, channel) cases run.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, update
from sqlalchemy.orm import Session

from gcrm._errors import PermissionDeniedError
from gcrm.campaigns import create_campaign, launch, preview
from gcrm.db import campaign_tables as tables
from gcrm.db.models import Account, Contact
from gcrm.segments import SegmentDefinition, save_segment
from gcrm.store import reachable_ids
from tests.test_scope_properties import (
    KINDS,
    World,
    actor_of,
    insert_world,
    scope_db,  # noqa: F401 - a fixture
    visible,
    worlds,
)

COUNTS: collections.Counter[str] = collections.Counter()


@dataclasses.dataclass(frozen=True)
class Person:
    id: int
    dnc: bool
    consent: bool
    email: bool
    erased: bool


@dataclasses.dataclass(frozen=True)
class Flags:
    dnc: bool
    consent: bool
    email: bool
    erased: bool
    lat: float
    lon: float
    people: tuple[Person, ...] = ()


_person_ids = iter(range(10**6, 10**9))  # above the ids of the worlds' own contacts


@st.composite
def people(draw: st.DrawFn) -> tuple[Person, ...]:
    return tuple(
        Person(
            id=next(_person_ids),
            dnc=draw(st.integers(0, 3)) == 0,
            consent=draw(st.booleans()),
            email=draw(st.integers(0, 4)) > 0,
            erased=draw(st.integers(0, 9)) == 0,
        )
        for _ in range(draw(st.integers(0, 2)))
    )


@st.composite
def campaign_worlds(draw: st.DrawFn) -> tuple[World, dict[int, Flags], SegmentDefinition]:
    world = draw(worlds(max_users=6, max_accounts=60))
    flags = {
        a.id: Flags(
            dnc=draw(st.booleans()),
            consent=draw(st.booleans()),
            email=draw(st.integers(0, 4)) > 0,
            erased=draw(st.integers(0, 9)) == 0,
            # a grid of half-steps: never on a rectangle's edge
            lat=60.0 + (draw(st.integers(0, 20)) + 0.5) / 100,
            lon=24.0 + (draw(st.integers(0, 20)) + 0.5) / 100,
            people=draw(people()),
        )
        for a in world.accounts
    }
    area = None
    if draw(st.booleans()):
        x0, x1 = sorted(draw(st.lists(st.integers(0, 21), min_size=2, max_size=2)))
        y0, y1 = sorted(draw(st.lists(st.integers(0, 21), min_size=2, max_size=2)))
        ring = [
            (24 + x0 / 100, 60 + y0 / 100),
            (24 + x1 / 100, 60 + y0 / 100),
            (24 + x1 / 100, 60 + y1 / 100),
            (24 + x0 / 100, 60 + y1 / 100),
            (24 + x0 / 100, 60 + y0 / 100),
        ]
        area = {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
    terr_names = [t.name for t in world.territories]
    definition = SegmentDefinition(
        kinds=tuple(draw(st.lists(st.sampled_from(KINDS), max_size=2, unique=True))),
        territories=tuple(
            draw(st.lists(st.sampled_from([*terr_names, "nowhere"]), max_size=2, unique=True))
        ),
        area=area,
    )
    return world, flags, definition


def _in_area(f: Flags, area: Any) -> bool:
    if area is None:
        return True
    ring = area["coordinates"][0]
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return min(xs) <= f.lon <= max(xs) and min(ys) <= f.lat <= max(ys)


def oracle(
    world: World, flags: dict[int, Flags], d: SegmentDefinition, user: Any
) -> dict[str, set[int]]:
    """Who each channel may reach, written out from the rules."""
    seen = visible(world, user)
    terr_name = {t.id: t.name for t in world.territories}
    out: dict[str, set[Any]] = {c: set() for c in ("email", "letter", "call", "visit")}
    for a in world.accounts:
        f = flags[a.id]
        if a.id not in seen or f.dnc or f.erased:
            continue
        if d.kinds and a.kind not in d.kinds:
            continue
        if d.territories and terr_name.get(a.territory) not in d.territories:
            continue
        if not _in_area(f, d.area):
            continue
        out["call"].add(a.id)
        out["visit"].add(a.id)
        if f.consent:
            out["letter"].add(a.id)
            if f.email:
                out["email"].add((a.id, None))
        for p in f.people:  # a person's own consent, whatever the account's
            if p.consent and p.email and not p.dnc and not p.erased:
                out["email"].add((a.id, p.id))
    return out


def _apply_flags(session: Session, flags: dict[int, Flags]) -> None:
    import datetime as dt

    for aid, f in flags.items():
        session.execute(
            update(Account)
            .where(Account.id == aid)
            .values(
                do_not_contact=f.dnc,
                marketing_consent=f.consent,
                email=f"acc{aid}@example.com" if f.email else None,
                erased_at=dt.datetime(2026, 1, 1) if f.erased else None,
                lat=f.lat,
                lon=f.lon,
            )
        )
    rows = [
        {
            "id": p.id,
            "account_id": aid,
            "name": f"Person {p.id}",
            "email": f"p{p.id}@example.com" if p.email else None,
            "do_not_contact": p.dnc,
            "marketing_consent": p.consent,
            "erased_at": dt.datetime(2026, 1, 1) if p.erased else None,
        }
        for aid, f in flags.items()
        for p in f.people
    ]
    if rows:
        session.execute(insert(Contact), rows)


def test_no_campaign_reaches_anyone_it_must_not(scope_db: Engine) -> None:  # noqa: F811
    @settings(
        max_examples=480,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=campaign_worlds())
    def run(case: tuple[World, dict[int, Flags], SegmentDefinition]) -> None:
        world, flags, definition = case
        COUNTS["accounts"] += len(world.accounts)
        COUNTS["worlds"] += 1
        with Session(scope_db) as session:
            try:
                insert_world(session, world)
                _apply_flags(session, flags)
                for n, user in enumerate(world.users):
                    actor = actor_of(user)
                    COUNTS["users"] += 1
                    if user.role not in ("manager", "admin"):
                        with pytest.raises(PermissionDeniedError):
                            save_segment(session, actor, f"s{n}", definition)
                        continue
                    save_segment(session, actor, f"s{n}", definition)
                    COUNTS["segments"] += 1
                    c = create_campaign(
                        session,
                        actor,
                        name=f"c{n}",
                        segment=f"s{n}",
                        channels="email,letter,call,visit",
                        subject="Hi {{ name }}",
                        body="Hello {{ name }}",
                    )
                    launch(session, actor, c.id)
                    want = oracle(world, flags, definition, user)
                    outbox = tables.outbox_frame(session, c.id)
                    got_mail = {
                        (int(a), None if pd.isna(p) else int(p))
                        for a, p in zip(outbox["account_id"], outbox["contact_id"], strict=True)
                    }
                    assert got_mail == want["email"], (user, got_mail ^ want["email"], world)
                    assert len(outbox) == len(got_mail)
                    assert all(
                        r == (f"acc{a}@example.com" if pd.isna(p) else f"p{int(p)}@example.com")
                        for a, p, r in zip(
                            outbox["account_id"],
                            outbox["contact_id"],
                            outbox["recipient"],
                            strict=True,
                        )
                    )
                    COUNTS["person_messages"] += int(outbox["contact_id"].notna().sum())
                    COUNTS["person_cases"] += sum(len(f.people) for f in flags.values())
                    tasks = tables.tasks_frame(session, campaign_id=c.id)
                    for kind in ("call", "visit"):
                        got = set(tasks.loc[tasks["kind"] == kind, "account_id"].astype(int))
                        assert got == want[kind], (user, kind, got ^ want[kind])
                    letters = set(preview(session, actor, c.id)["members"]["letter"]["id"])
                    assert letters == want["letter"], (user, letters ^ want["letter"])
                    # the send-time re-check agrees with the oracle on every account
                    everyone = [a.id for a in world.accounts]
                    for channel in ("email", "call"):
                        assert reachable_ids(session, actor, everyone, channel=channel) == {
                            a
                            for a in everyone
                            if a in visible(world, user)
                            and not flags[a].dnc
                            and not flags[a].erased
                            and (channel == "call" or (flags[a].consent and flags[a].email))
                        }
                    COUNTS["cases"] += 6 * len(world.accounts)
            finally:
                session.rollback()

    run()
    print(f"\ncampaign properties: {dict(COUNTS)}")
    assert COUNTS["accounts"] >= 10_000
    assert COUNTS["cases"] >= 10_000
    assert COUNTS["person_cases"] >= 10_000
    assert COUNTS["person_messages"] >= 200
