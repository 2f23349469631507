"""Logins: a growing lockout after repeated wrong passwords, kept in the records database (so every replica and the
API see it), the same for names that exist and names that do not, and no password in a log, a record or a row."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest

from rag.errors import AuthError
from rag.records.book import open_book
from rag.records.logins import LoginLocked, LoginPolicy, check_login, failed_logins
from rag.records.users import Role, add_user
from tests.records.conftest import ADMIN, PASSWORD

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
POLICY = LoginPolicy(max_failures=3, lockout_s=30.0)


@pytest.fixture
def people(book):
    add_user(book, "ada", Role.ADMIN, PASSWORD, by=ADMIN)
    add_user(book, "ann", Role.ASKER, PASSWORD, by=ADMIN)
    return book


def fail(book, name: str, times: int, at: datetime = T0) -> None:
    for _ in range(times):
        with pytest.raises(AuthError, match="wrong user name or password"):
            check_login(book, name, "not the password", POLICY, now=at)


def test_a_name_locks_after_the_failures_and_even_the_right_password_waits(people):
    fail(people, "ann", 3)
    with pytest.raises(LoginLocked, match="try again in 29 s") as locked:
        check_login(people, "ann", PASSWORD, POLICY, now=T0 + timedelta(seconds=1))
    assert locked.value.until == T0 + timedelta(seconds=30)
    user = check_login(people, "ann", PASSWORD, POLICY, now=T0 + timedelta(seconds=31))
    assert user.name == "ann"
    assert failed_logins(people, "ann").failures == 0  # a success starts the count again


def test_each_failure_after_the_lock_doubles_it(people):
    fail(people, "ann", 3)
    fail(people, "ann", 1, at=T0 + timedelta(seconds=31))  # the lock is over; one more wrong password
    with pytest.raises(LoginLocked, match="try again in 60 s"):
        check_login(people, "ann", PASSWORD, POLICY, now=T0 + timedelta(seconds=31))
    assert [POLICY.lock_for(n) for n in (1, 2, 3, 4, 5, 20)] == [0, 0, 30, 60, 120, 3600]


def test_failures_below_the_limit_leave_the_right_password_working(people):
    fail(people, "ann", 2)
    assert check_login(people, "ann", PASSWORD, POLICY, now=T0).name == "ann"
    fail(people, "ann", 2)  # counted afresh: not locked
    assert check_login(people, "ann", PASSWORD, POLICY, now=T0).name == "ann"


def test_an_unknown_name_locks_like_a_real_one(people):
    fail(people, "nobody", 3)
    with pytest.raises(LoginLocked, match="try again in 30 s"):
        check_login(people, "nobody", PASSWORD, POLICY, now=T0)
    # other names are untouched
    assert check_login(people, "ann", PASSWORD, POLICY, now=T0).name == "ann"


def test_a_name_is_counted_as_stored_nfc(people):
    add_user(people, "Zoë", Role.ASKER, PASSWORD, by=ADMIN)
    fail(people, "Zoe\u0308", 2)
    fail(people, " Zoë ", 1)
    with pytest.raises(LoginLocked):
        check_login(people, "Zoë", PASSWORD, POLICY, now=T0)


def test_the_lock_holds_across_replicas(people, record_settings):
    other = open_book(record_settings)  # a second app replica or the API, on the same database
    try:
        fail(people, "ann", 3)
        with pytest.raises(LoginLocked):
            check_login(other, "ann", PASSWORD, POLICY, now=T0)
    finally:
        other.db.dispose()


def test_concurrent_failures_all_count(people, record_settings):
    books = [open_book(record_settings) for _ in range(4)]
    errors = []

    def attempt(book):
        for _ in range(2):
            try:
                check_login(book, "ann", "not the password", LoginPolicy(max_failures=100), now=T0)
            except AuthError:
                pass
            except Exception as e:  # noqa: BLE001 - a lost race would surface here
                errors.append(e)

    threads = [threading.Thread(target=attempt, args=(b,)) for b in books]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b in books:
        b.db.dispose()
    assert not errors and failed_logins(people, "ann").failures == 8


def test_a_name_too_long_to_exist_is_refused_without_a_row(people):
    with pytest.raises(AuthError, match="wrong user name or password"):
        check_login(people, "x" * 500, PASSWORD, POLICY, now=T0)
    assert failed_logins(people, "x" * 500).failures == 0


def test_no_password_reaches_a_log_a_record_or_a_row(book, caplog, record_settings):
    from sqlalchemy import select

    from rag.records.tables import login_failures, records, users

    secret, wrong = "Tr0ub4dor&3-horse-staple", "wr0ng-b4ttery-staple"
    caplog.set_level(logging.DEBUG)
    add_user(book, "ada", Role.ADMIN, secret, by=ADMIN)
    check_login(book, "ada", secret, POLICY, now=T0)
    fail(book, "ada", 3)
    with pytest.raises(LoginLocked):
        check_login(book, "ada", secret, POLICY, now=T0)
    check_login(book, "ada", secret, POLICY, now=T0 + timedelta(hours=1))
    with book.db.read() as conn:
        rows = [str(tuple(r)) for table in (records, users, login_failures) for r in conn.execute(select(table))]
    assert rows  # the chain and the users were read
    for text in [caplog.text, *rows, *(str(r.args) for r in caplog.records)]:
        assert secret not in text and wrong not in text
    assert "not the password" not in caplog.text
    if record_settings.records_url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in (record_settings.data_dir).glob("records.db*"))
        assert secret.encode() not in raw and wrong.encode() not in raw


def test_the_cli_login_counts_towards_the_same_lock(people, record_settings):
    from rag.records.users import acting_user

    settings = record_settings.replace(login_max_failures=2)
    for _ in range(2):
        with pytest.raises(AuthError, match="wrong user name or password"):
            acting_user(people, settings, "ann", "not the password")
    with pytest.raises(LoginLocked):
        acting_user(people, settings, "ann", PASSWORD)
    with pytest.raises(LoginLocked):  # and the app, or the API, meets it too
        check_login(people, "ann", PASSWORD, LoginPolicy.of(settings))
