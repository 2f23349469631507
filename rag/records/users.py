"""Users and roles: argon2-hashed passwords, who may review and who may administer; every change a chain record."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum

from rag.errors import AuthError, ConfigError, PermissionDenied
from rag.records.chain import Kind, append
from rag.records.db import utc_now

MIN_PASSWORD = 10
MAX_NAME = 64


class Role(str, Enum):
    ASKER = "asker"
    REVIEWER = "reviewer"
    ADMIN = "admin"

    @property
    def reviews(self) -> bool:
        return self in (Role.REVIEWER, Role.ADMIN)


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    disabled: bool = False
    created_at: str = ""
    local: bool = False  # the one user of an installation without users: no login, every right


LOCAL_USER = User("local", Role.ADMIN, local=True)


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current parameters (RFC 9106 low-memory profile)


def check_name(name: str) -> str:
    """Any printable name up to 64 characters (it is always shown as text, never as markup)."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name or len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ConfigError(f"a user name is 1-{MAX_NAME} printable characters; got {name!r}")
    if name == LOCAL_USER.name:
        raise ConfigError(f"{name!r} is the name of the built-in local user; choose another")
    return name


def add_user(book, name: str, role: Role, password: str, by: User) -> User:
    """Create a user. The first must be an admin (it administers the rest); after that only admins add users."""
    from sqlalchemy import insert, select

    from rag.records.tables import users

    name = check_name(name)
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
    existing = list_users(book)
    if not existing and role is not Role.ADMIN:
        raise ConfigError("the first user must be an admin (--role admin): only admins can add the others")
    if existing and by.role is not Role.ADMIN:
        raise PermissionDenied(f"{by.name} is {by.role.value}: only admins add users")
    user = User(name, role, False, utc_now())
    password_hash = _hasher().hash(password)

    def write_row(conn, _record):
        if conn.execute(select(users.c.name).where(users.c.name == name)).first():
            raise ConfigError(f"user {name!r} exists already")
        conn.execute(insert(users).values(name=name, role=role.value, password_hash=password_hash, disabled=False,
                                          created_at=user.created_at))

    append(book.db, book.checkpoints, Kind.USER_ADDED, by.name, {"name": name, "role": role.value}, also=write_row)
    return user


def disable_user(book, name: str, by: User) -> None:
    """Refuse a user's logins from now on; their records stay as they are."""
    from sqlalchemy import select, update

    from rag.records.tables import users

    if by.role is not Role.ADMIN:
        raise PermissionDenied(f"{by.name} is {by.role.value}: only admins disable users")

    def write_row(conn, _record):
        row = conn.execute(select(users.c.disabled).where(users.c.name == name)).first()
        if row is None:
            raise ConfigError(f"no user {name!r}; `regcite users list` shows them")
        conn.execute(update(users).where(users.c.name == name).values(disabled=True))

    append(book.db, book.checkpoints, Kind.USER_DISABLED, by.name, {"name": name}, also=write_row)


def list_users(book) -> list[User]:
    from sqlalchemy import select

    from rag.records.tables import users

    with book.db.read() as conn:
        rows = conn.execute(select(users.c.name, users.c.role, users.c.disabled, users.c.created_at)
                            .order_by(users.c.name)).all()
    return [User(r.name, Role(r.role), bool(r.disabled), r.created_at) for r in rows]


def authenticate(book, name: str, password: str) -> User:
    """The user with that name and password; AuthError otherwise, the same message whichever part was wrong."""
    from argon2.exceptions import InvalidHashError, VerificationError
    from sqlalchemy import select, update

    from rag.records.tables import users

    with book.db.read() as conn:  # names are stored NFC: "Zoë" typed decomposed is the same user
        row = conn.execute(select(users).where(users.c.name == unicodedata.normalize("NFC", name.strip()))).first()
    hasher = _hasher()
    try:
        # an unknown name still costs one verification, so timing does not tell which names exist
        hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong user name or password") from None
    if row is None:
        raise AuthError("wrong user name or password")
    if row.disabled:
        raise AuthError(f"user {row.name!r} is disabled; an admin can tell you why")
    if hasher.check_needs_rehash(row.password_hash):
        with book.db.write() as conn:
            conn.execute(update(users).where(users.c.name == row.name).values(password_hash=hasher.hash(password)))
    return User(row.name, Role(row.role), False, row.created_at)


def acting_user(book, settings, name: str | None, password: str | None) -> User:
    """Who an entry point acts as: the local user while no users exist (auth "auto"), else a checked login."""
    if not list_users(book):
        if settings.auth == "password":
            raise AuthError("auth is \"password\" but no user exists: add an admin with "
                            "`regcite users add NAME --role admin`")
        return LOCAL_USER
    if not name:
        raise AuthError("users are defined: say who you are with --user NAME or REGCITE_USER "
                        "(password from the prompt or REGCITE_PASSWORD)")
    if password is None:
        raise AuthError(f"no password for {name}: type it at the prompt or set REGCITE_PASSWORD")
    from rag.records.logins import LoginPolicy, check_login  # imports this module: here, not at the top

    return check_login(book, name, password, LoginPolicy.of(settings))  # the CLI counts towards the same lockout


def require_reviewer(user: User) -> None:
    if not user.role.reviews:
        raise PermissionDenied(f"{user.name} is an asker: reviewing needs the reviewer or admin role")


_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$zF7G82pad76FthuSWws+ZQ$FT/UMEfX67dTy/aPjLjriQKy6twsPOQ5BlifIfhyfN4"
