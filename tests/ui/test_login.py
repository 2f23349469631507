"""Login in AppTest: no users is one local user; once users exist, a login against the record book decides who
asks and who reviews, and nothing but the server-side session remembers it."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from rag.config import load_settings
from rag.records.answers import record_answer
from rag.records.book import open_book
from rag.records.users import Role, User, add_user, disable_user
from rag.types import Filters
from tests.grants import let_read
from tests.ui.conftest import ROOT, build_index, regb_answer

APP = str(ROOT / "ui" / "app.py")
PASSWORD = "correct horse battery"
ADMIN = User("ada", Role.ADMIN)
ASKER = User("ann", Role.ASKER)
REVIEWER = User("rex", Role.REVIEWER)
SECOND = User("rosa", Role.REVIEWER)
WRONG = "wrong user name or password"


@pytest.fixture
def records_env(app_env, tmp_path, monkeypatch):
    """The app's settings (REGCITE_DATA_DIR from app_env) with the audit key in the test's folder; the book they
    open, empty of users."""
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    settings = load_settings()
    book = open_book(settings)
    yield settings, book
    book.db.dispose()


@pytest.fixture
def people(records_env):
    """An admin, an asker and two reviewers, each with PASSWORD."""
    settings, book = records_env
    for user in (ADMIN, ASKER, REVIEWER, SECOND):
        add_user(book, user.name, user.role, PASSWORD, by=ADMIN)
    return settings, book


def open_app(timeout: int = 60) -> AppTest:
    return AppTest.from_file(APP, default_timeout=timeout).run()


def log_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "Log in").click()
    return at.run()


def sidebar_text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def test_without_users_the_app_runs_as_the_local_user_without_a_login(records_env):
    at = open_app()
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "login_name"]
    assert at.chat_input  # the Ask page, at once
    assert "running as the local user" in sidebar_text(at)


def test_once_users_exist_the_app_asks_for_a_login_and_shows_nothing_else(people):
    at = open_app()
    assert not at.exception
    assert at.text_input(key="login_name").label == "User name"
    assert at.text_input(key="login_password").proto.type == at.text_input(key="login_password").proto.PASSWORD
    assert not at.chat_input and not [b for b in at.button if b.key == "log_out"]
    assert "auth_user" not in at.session_state


@pytest.mark.parametrize("name, password", [("rex", "not the password"), ("nobody", PASSWORD), ("", "")])
def test_a_failed_login_says_only_wrong_user_name_or_password(people, name, password):
    at = log_in(open_app(), name, password)
    assert not at.exception
    assert [e.value for e in at.error] == [WRONG]
    assert not at.chat_input and "auth_user" not in at.session_state


def test_a_disabled_user_gets_the_same_message(people):
    settings, book = people
    disable_user(book, "ann", by=ADMIN)
    at = log_in(open_app(), "ann")
    assert [e.value for e in at.error] == [WRONG]


def test_login_shows_who_and_their_role_and_log_out_asks_again(people):
    at = log_in(open_app(), "rex")
    assert not at.exception and not at.error
    assert at.chat_input  # on the Ask page
    assert "**rex** · reviewer" in sidebar_text(at)
    at.button(key="log_out").click().run()
    assert at.text_input(key="login_name").value == ""
    assert not at.chat_input and "auth_user" not in at.session_state


def test_a_new_session_asks_again(people):
    log_in(open_app(), "rex")
    again = open_app()  # a reload is a new session: nothing but the server-side session held the login
    assert again.text_input(key="login_name") and not again.chat_input


def test_auth_password_asks_for_a_login_even_without_users(records_env, monkeypatch):
    monkeypatch.setenv("REGCITE_AUTH", "password")
    at = open_app()
    assert at.text_input(key="login_name") and not at.chat_input
    assert "`regcite users add NAME --role admin`" in at.info[0].value


def test_a_user_disabled_while_logged_in_must_log_in_again(people):
    settings, book = people
    at = log_in(open_app(), "ann")
    assert at.chat_input
    disable_user(book, "ann", by=ADMIN)
    at.run()
    assert at.text_input(key="login_name") and not at.chat_input


def test_an_asker_opening_review_by_url_is_refused_and_sees_no_records(people):
    settings, book = people
    docs = build_index(settings)
    answer = regb_answer(docs)
    record_answer(book, ASKER, answer, Filters(), entry="app", generation=1)
    at = log_in(open_app(), "ann")
    at.switch_page("views/review.py").run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("Reviewing needs the reviewer or admin role")
    shown = "\n".join(m.value for m in at.main.markdown)
    assert "notify an applicant" not in shown and not [b for b in at.button if (b.key or "").startswith("queue-")]
    assert not at.tabs


def test_a_reviewer_opening_review_sees_the_queue(people):
    settings, book = people
    docs = build_index(settings)
    record = record_answer(book, ASKER, regb_answer(docs), Filters(), entry="app", generation=1)
    let_read(book, "rex")  # the queue shows a reviewer answers from collections they read (rag.access)
    at = log_in(open_app(), "rex")
    at.switch_page("views/review.py").run()
    assert not at.exception and not at.error
    assert at.button(key=f"queue-open-{record.answer_id}")


def test_a_user_name_with_markup_shows_literally(records_env):
    settings, book = records_env
    add_user(book, ADMIN.name, Role.ADMIN, PASSWORD, by=ADMIN)
    hostile = "<img src=x onerror=alert(1)>"
    add_user(book, hostile, Role.ASKER, PASSWORD, by=ADMIN)
    at = log_in(open_app(), hostile)
    assert not at.error
    shown = sidebar_text(at)
    assert "**\\<img src\\=x onerror\\=alert\\(1\\)\\>** · asker" in shown
    assert "<" not in shown.replace("\\<", "")  # every angle bracket escaped: Markdown shows it, never parses it


def test_a_name_typed_in_decomposed_unicode_logs_in(records_env):
    settings, book = records_env
    add_user(book, ADMIN.name, Role.ADMIN, PASSWORD, by=ADMIN)
    add_user(book, "Zoë", Role.ASKER, PASSWORD, by=ADMIN)  # stored NFC
    at = log_in(open_app(), "Zoe\u0308")  # as some keyboards send it: e and a combining diaeresis
    assert not at.error and at.chat_input


def test_repeated_wrong_passwords_lock_the_name_even_for_the_right_one(people, monkeypatch):
    monkeypatch.setenv("REGCITE_LOGIN_MAX_FAILURES", "3")
    at = open_app()
    for _ in range(3):
        at = log_in(at, "rex", "not the password")
        assert [e.value for e in at.error] == [WRONG]
    at = log_in(at, "rex")
    assert not at.exception and not at.chat_input and "auth_user" not in at.session_state
    assert at.error[0].value.startswith("too many failed logins for this user name") and "30 s" in at.error[0].value
    # another session (a reload, another replica) meets the same lock: it lives in the records database
    again = log_in(open_app(), "rex")
    assert again.error[0].value.startswith("too many failed logins") and not again.chat_input


def test_an_idle_session_expires_and_asks_for_a_login(people, monkeypatch):
    import time

    monkeypatch.setenv("REGCITE_SESSION_IDLE_MINUTES", "30")
    at = log_in(open_app(), "rex")
    assert at.chat_input
    at.session_state["auth_seen"] = time.time() - 31 * 60
    at.run()
    assert not at.exception and not at.chat_input and "auth_user" not in at.session_state
    assert at.text_input(key="login_name")
    assert "idle for more than 30 minutes" in at.info[0].value


def test_a_session_older_than_its_maximum_expires_though_active(people, monkeypatch):
    import time

    monkeypatch.setenv("REGCITE_SESSION_MAX_HOURS", "12")
    at = log_in(open_app(), "rex")
    at.session_state["auth_since"] = time.time() - 13 * 3600
    at.run()
    assert not at.chat_input and "more than 12 hours old" in at.info[0].value
    at = log_in(at, "rex")  # a fresh login starts a fresh session
    assert at.chat_input and not [i for i in at.info if "hours old" in i.value]


def test_the_password_is_in_no_log_and_not_kept_in_the_session(people, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    at = log_in(open_app(), "rex", "a wrong password typed")
    at = log_in(at, "rex")
    assert at.chat_input
    assert PASSWORD not in caplog.text and "a wrong password typed" not in caplog.text
    assert "login_password" not in at.session_state
    held = [repr(at.session_state[k]) for k in ("auth_user", "auth_since", "auth_seen")]
    assert not any(PASSWORD in h for h in held)
