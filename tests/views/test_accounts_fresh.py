"""AppTest: after each action the account page shows the new state at once (no stale page)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for
from gcrm.db.session import session_scope

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _account_page() -> AppTest:
    with session_scope() as s:
        actor = actor_for(s, "rep1")
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/accounts.py").run()
    at.selectbox(key="acc_open").select_index(0).run()
    assert not at.exception, at.exception
    return at


def _summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "· stage **" in m.value)


def test_save_shows_the_new_stage_in_the_header(demo_copy: str) -> None:
    """After Save the summary under the name shows the new stage, with "Saved."."""
    at = _account_page()
    old = _summary(at).split("stage **")[1].split("**")[0]
    new = "negotiation" if old != "negotiation" else "proposal"
    next(s for s in at.selectbox if s.label == "Stage").select(new)
    at.button(key="FormSubmitter:edit_account-Save").click().run()
    assert not at.exception, at.exception
    assert f"stage **{new}**" in _summary(at)
    assert any("Saved" in s.value for s in at.success)


def test_a_logged_call_is_in_the_history_at_once(demo_copy: str) -> None:
    """A logged call appears in the History table in the same page view."""
    at = _account_page()
    next(s for s in at.selectbox if s.label == "Kind" and "call" in s.options).select("call")
    next(t for t in at.text_input if t.label == "Outcome").input("call-back Friday")
    at.button(key="FormSubmitter:log_interaction-Log").click().run()
    assert not at.exception, at.exception
    history = at.dataframe[-1].value
    assert "call-back Friday" in set(history["outcome"])


def test_a_moved_pin_says_manual(demo_copy: str) -> None:
    """After Set pin the location line says "manual" (not the old precision)."""
    at = _account_page()
    next(n for n in at.number_input if n.label == "Latitude").set_value(60.1701)
    next(n for n in at.number_input if n.label == "Longitude").set_value(24.9402)
    at.button(key="FormSubmitter:move_pin-Set pin").click().run()
    assert not at.exception, at.exception
    assert "Location: manual" in _summary(at)
