"""Logins with a lockout: after repeated wrong passwords a user name is refused for a growing while.

The count lives in the records database (`login_failures`), keyed by the name typed, so it holds across app replicas
and the API, and a name that does not exist locks exactly like one that does (the lockout tells nobody which names
exist). Every entry point that takes a password calls `check_login`; nothing here logs or stores a password.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rag.errors import AuthError
from rag.records.users import MAX_NAME, User, authenticate

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # rag.records.db.utc_now's format: fixed width, sorts as text


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5  # wrong passwords in a row before the name locks
    lockout_s: float = 30.0  # the first lock; each further failure doubles it
    max_lockout_s: float = 3600.0

    @classmethod
    def of(cls, settings) -> "LoginPolicy":
        return cls(settings.login_max_failures, settings.login_lockout_s)

    def lock_for(self, failures: int) -> float:
        """Seconds a name is locked after its `failures`-th wrong password in a row (0: not locked)."""
        if failures < self.max_failures:
            return 0.0
        return min(self.lockout_s * 2 ** min(failures - self.max_failures, 32), self.max_lockout_s)


@dataclass(frozen=True)
class FailedLogins:
    """What the database holds about one name's failed logins."""

    failures: int = 0
    locked_until: datetime | None = None


class LoginLocked(AuthError):
    """Too many wrong passwords for a name: refused until `until`, whatever the password."""

    def __init__(self, until: datetime, now: datetime):
        wait = max(1, math.ceil((until - now).total_seconds()))
        super().__init__(f"too many failed logins for this user name: try again in {_duration(wait)}")
        self.until = until


def check_login(book, name: str, password: str, policy: LoginPolicy = LoginPolicy(),
                now: datetime | None = None) -> User:
    """The user with that name and password, unless the name is locked; a wrong password counts towards the lock.

    Raises LoginLocked while a name is locked (its password is not even checked), AuthError for a wrong name or
    password (the same message whichever was wrong), and resets the count on success."""
    now = now or datetime.now(timezone.utc)
    key = unicodedata.normalize("NFC", name.strip())
    if len(key) > MAX_NAME:  # no such user can exist; nothing to count, but the same answer and the same cost
        authenticate(book, "", password)
        raise AuthError("wrong user name or password")
    held = failed_logins(book, key)
    if held.locked_until is not None and now < held.locked_until:
        raise LoginLocked(held.locked_until, now)
    try:
        user = authenticate(book, key, password)
    except AuthError:
        if key:
            _count_failure(book, key, policy, now)
        raise
    if held.failures:
        _reset(book, key)
    return user


def failed_logins(book, name: str) -> FailedLogins:
    from sqlalchemy import select

    from rag.records.tables import login_failures

    with book.db.read() as conn:
        row = conn.execute(select(login_failures.c.failures, login_failures.c.locked_until)
                           .where(login_failures.c.user_name == name)).first()
    if row is None:
        return FailedLogins()
    return FailedLogins(row.failures, _parse(row.locked_until) if row.locked_until else None)


def _count_failure(book, name: str, policy: LoginPolicy, now: datetime) -> None:
    """One more failure, counted inside the write transaction so concurrent attempts on replicas all count."""
    from sqlalchemy import select, update

    from rag.records.tables import login_failures

    stamp = now.strftime(_STAMP)
    with book.db.write() as conn:
        conn.execute(_insert_if_absent(book.db.dialect).values(
            user_name=name, failures=0, last_failure_at=stamp, locked_until=None))
        # the row lock (PostgreSQL; SQLite's write lock is the whole database) serialises concurrent failures
        current = conn.execute(select(login_failures.c.failures).where(login_failures.c.user_name == name)
                               .with_for_update()).scalar_one()
        failures = current + 1
        lock = policy.lock_for(failures)
        until = (now + timedelta(seconds=lock)).strftime(_STAMP) if lock else None
        conn.execute(update(login_failures).where(login_failures.c.user_name == name)
                     .values(failures=failures, last_failure_at=stamp, locked_until=until))


def _insert_if_absent(dialect: str):
    from rag.records.tables import login_failures

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(login_failures).on_conflict_do_nothing(index_elements=["user_name"])


def _reset(book, name: str) -> None:
    from sqlalchemy import delete

    from rag.records.tables import login_failures

    with book.db.write() as conn:
        conn.execute(delete(login_failures).where(login_failures.c.user_name == name))


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, _STAMP).replace(tzinfo=timezone.utc)


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
