"""Issue 13 in the app (AppTest): log-out and time-out forget everything, web logins lock
like the CLI, sessions are re-checked, the admin page grants nothing by default, account
text is shown as plain text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from markdown_it import MarkdownIt
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from gcrm.auth import actor_for, login, update_user
from gcrm.db.models import Account, AuditEvent, User
from gcrm.db.session import session_scope
from views.common import plain

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SECRET_STATE = {
    "md_print_files": ("<html>545 phones</html>", b"%PDF"),
    "rp_file": b"previous user's export",
    "md_plan": "another rep's plan",
    "pm_near": [1, 2, 3],
}


def _login(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()


def _as(username: str) -> AppTest:
    with session_scope() as s:
        actor = login(s, username, "demo")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = actor
    for key, value in SECRET_STATE.items():
        at.session_state[key] = value
    return at


def _left_over(at: AppTest) -> set[str]:
    return {k for k in SECRET_STATE if k in at.session_state} | (
        {"actor"} if "actor" in at.session_state else set()
    )


def test_finding_02_log_out_forgets_everything(demo_copy: str) -> None:
    """After log-out the next person at the browser finds no prepared file, plan or result."""
    at = _as("manager").run()
    assert not at.exception and at.session_state["actor"].username == "manager"
    at.switch_page("views/logout.py").run()
    assert not at.exception
    assert _left_over(at) == set()
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_finding_02_time_out_forgets_everything(demo_copy: str) -> None:
    """An idle session that times out keeps nothing either, and says why."""
    at = _as("rep1")
    at.session_state["last_activity"] = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(
        hours=5
    )
    at.run()
    assert not at.exception
    assert _left_over(at) == set()
    assert any("timed out" in w.value for w in at.warning)


def test_finding_03_six_wrong_web_logins_lock_and_are_audited(demo_copy: str) -> None:
    """6 wrong passwords in the login form, then the right one: not logged in, and the
    failures and the lockout are in the audit log; the words never confirm the user."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    for _ in range(6):
        _login(at, "rep1", "not the password")
        assert not at.exception and "actor" not in at.session_state
    _login(at, "rep1", "demo")
    assert "actor" not in at.session_state
    locked_words = at.error[0].value
    _login(at, "nobody-at-all", "demo")
    assert at.error[0].value == locked_words
    with session_scope() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.username == "rep1")))
        user = s.scalar(select(User).where(User.username == "rep1"))
    assert actions.count("login_failed") == 7 and actions.count("lockout") == 1
    assert user.locked_until is not None


def test_finding_04_open_sessions_are_rechecked(demo_copy: str) -> None:
    """Deactivation, a new password or a role change end an open session at its next
    request, with nothing kept."""
    with session_scope() as s:
        admin = actor_for(s, "admin")
    for change in ({"is_active": False}, {"role": "analyst"}):
        who = "rep2"
        at = _as(who).run()
        assert at.session_state["actor"].username == who
        with session_scope() as s:
            update_user(s, admin, who, **change)
        at.run()
        assert not at.exception
        assert _left_over(at) == set(), change
        with session_scope() as s:
            update_user(s, admin, who, is_active=True, role="rep")
    at = _as("rep3").run()
    with session_scope() as s:
        user = s.scalar(select(User).where(User.username == "rep3"))
        from gcrm.auth import hash_password

        user.password_hash = hash_password("changed elsewhere 123")
    at.run()
    assert _left_over(at) == set()


def test_finding_06_admin_page_grants_nothing_on_role_change(demo_copy: str) -> None:
    """Changing a rep to analyst on the admin page, touching nothing else, gives no grant."""
    at = _as("admin").run()
    at.switch_page("views/admin.py").run()
    assert not at.exception
    at.selectbox(key="adm_user").select("rep1").run()
    assert at.checkbox(key="adm_grant_rep1").value is False
    at.selectbox(key="adm_role_rep1").select("analyst")
    at.button[0].click().run()
    assert not at.exception
    with session_scope() as s:
        user = s.scalar(select(User).where(User.username == "rep1"))
    assert user.role == "analyst" and user.personal_data_grant is False


def test_finding_13_account_text_is_plain(demo_copy: str) -> None:
    """A name with Markdown image/link syntax is shown escaped: no image fetch, no link."""
    evil = "![x](http://evil.example/p.png) [click](http://evil.example) **Bold** :red[x]"
    with session_scope() as s:
        rep1 = actor_for(s, "rep1")
        account = s.scalar(select(Account).where(Account.owner_id == rep1.id).order_by(Account.id))
        account.name = evil
        account.city = "[city](http://evil.example)"
        aid = account.id
    at = _as("rep1").run()
    at.switch_page("views/accounts.py").run()  # a rep lands on My day
    at.selectbox(key="acc_open").select(aid).run()
    assert not at.exception
    header = at.header[0].value
    assert header == plain(evil)
    md = MarkdownIt("commonmark")
    for element in [*at.header, *at.markdown]:
        html = md.render(element.value)
        assert "<img" not in html and "<a " not in html and "<strong>Bold" not in html


def test_plain_renders_back_to_the_typed_text() -> None:
    """The escaped text renders as exactly what was typed (nothing lost)."""
    md = MarkdownIt("commonmark")
    for text in ["Kahvila & Bar <Oy>", "O'Brien_s *1*", "a\\b `c` $x$ #1 ~y~", "http://x.fi/a?b=1"]:
        rendered = md.render(plain(text)).strip()
        assert rendered.startswith("<p>") and "<a " not in rendered
        unescaped = rendered[3:-4].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert unescaped.replace("&quot;", '"') == text


def _logged_in(username: str, page: str = APP) -> AppTest:
    with session_scope() as s:
        actor = login(s, username, "demo")
    at = AppTest.from_file(page, default_timeout=60)
    at.session_state["actor"] = actor
    return at


def _denied(username: str) -> list[AuditEvent]:
    with session_scope() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "denied", AuditEvent.username == username
                )
            )
        )


def test_denied_web_action_leaves_an_audit_line(demo_copy: str) -> None:
    """A page a role may not use, requested anyway (the menu does not offer it; here the
    page script is run directly), is refused with an audit line naming the user and the
    page, as a denied CLI command is."""
    assert _denied("rep1") == [] and _denied("analyst") == []
    views = Path(APP).parent / "views"
    at = _logged_in("rep1", str(views / "import_accounts.py")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Your role may not import accounts."]
    at = _logged_in("analyst", str(views / "admin.py")).run()
    assert [e.value for e in at.error] == ["Only admins can manage users."]
    (rep_line,) = _denied("rep1")
    (analyst_line,) = _denied("analyst")
    assert rep_line.target == "import_accounts" and '"right": "import"' in rep_line.details
    assert analyst_line.target == "admin" and '"right": "admin"' in analyst_line.details


def _show_denied_store_error() -> None:
    """An AppTest script: a store call refuses the user; the page shows it."""
    from gcrm._errors import PermissionDeniedError
    from views.common import show_error

    show_error(PermissionDeniedError("user 'rep1' (rep) may not erase"))


def test_denied_store_call_in_a_page_is_audited(demo_copy: str) -> None:
    """A PermissionDeniedError a page shows leaves a ``denied`` line with its reason."""
    with session_scope() as s:
        actor = login(s, "rep1", "demo")
    at = AppTest.from_function(_show_denied_store_error, default_timeout=30)
    at.session_state["actor"] = actor
    at.run()
    assert not at.exception
    assert "may not erase" in at.error[0].value
    (line,) = _denied("rep1")
    assert "may not erase" in line.details


def _show_file_error() -> None:
    """An AppTest script: an error naming an uploaded file with Markdown in its name."""
    from gcrm._errors import InputError
    from views.common import show_error

    show_error(InputError("![x](http://h/) [t](http://h).csv: the file is empty"))


def test_error_text_is_plain(demo_copy: str) -> None:
    """Error messages quoting a file name or a user's text (here a shift typed on the
    admin page) render as typed: no image fetch, no link."""
    evil = "![x](http://h/) [t](http://h)"
    md = MarkdownIt("commonmark")
    at = _logged_in("admin").run()
    at.switch_page("views/admin.py").run()
    at.selectbox(key="adm_user").select("rep1").run()
    at.text_input(key="adm_shift_rep1").input(evil)
    at.button(key="FormSubmitter:home_base-Save home and shift").click().run()
    assert not at.exception
    file_at = AppTest.from_function(_show_file_error, default_timeout=30).run()
    shown = [e.value for e in [*at.error, *file_at.error]]
    assert len(shown) == 2 and plain(repr(evil)) in shown[0] and plain(evil) in shown[1]
    for value in shown:
        html = md.render(value)
        assert "<img" not in html and "<a " not in html, html
        assert "http://h" in html  # the text itself is kept, only inert
