"""API keys: a secret shown once, stored as its sha256 beside a short prefix and a label; each key acts as its user.

Creating and revoking a key are chain records (without the secret); using one only updates `last_used_at`.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rag.errors import AuthError, ConfigError, PermissionDenied
from rag.records.chain import append
from rag.records.db import utc_now
from rag.records.users import LOCAL_USER, Role, User, list_users

KIND = "api_key"  # the chain records' kind; the body's "action" says created or revoked
SECRET_PREFIX = "rgc_"  # tells a regcite key apart from other secrets (and lets scanners find leaked ones)
PREFIX_CHARS = 12  # "rgc_" and 8 characters of the secret: enough to tell a user's keys apart, useless to guess
MAX_LABEL = 200
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is refreshed at most this often: no write on every request


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    user: str
    prefix: str
    label: str
    created_at: str
    revoked_at: str = ""
    last_used_at: str = ""

    @property
    def revoked(self) -> bool:
        return bool(self.revoked_at)


@dataclass(frozen=True)
class NewKey:
    """A key just made: the secret exists only here, so it is shown once and never again."""

    key: ApiKey
    secret: str


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(book, owner: str, label: str, by: User) -> NewKey:
    """A new key for `owner`: admins make keys for anyone, other users only for themselves; none for a disabled
    user."""
    from sqlalchemy import insert

    from rag.records.tables import api_keys

    label = " ".join(label.split())
    if len(label) > MAX_LABEL:
        raise ConfigError(f"a key's label is at most {MAX_LABEL} characters")
    user = _existing_user(book, owner)
    if by.role is not Role.ADMIN and by.name != user.name:
        raise PermissionDenied(f"{by.name} is {by.role.value}: only admins make keys for other users")
    if user.disabled:
        raise ConfigError(f"user {user.name!r} is disabled: a key for them would be refused")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    key = ApiKey(str(uuid.uuid4()), user.name, secret[:PREFIX_CHARS], label or "", utc_now())

    def write_row(conn, _record):
        conn.execute(insert(api_keys).values(key_id=key.key_id, user_name=key.user, key_hash=key_hash(secret),
                                             prefix=key.prefix, label=key.label, created_at=key.created_at))

    append(book.db, book.checkpoints, KIND, by.name,
           {"action": "created", "key_id": key.key_id, "user": key.user, "prefix": key.prefix, "label": key.label},
           also=write_row)
    return NewKey(key, secret)


def list_keys(book, owner: str | None = None) -> list[ApiKey]:
    """Every key (revoked ones too), or one user's, oldest first."""
    from sqlalchemy import select

    from rag.records.tables import api_keys

    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
    if owner is not None:
        query = query.where(api_keys.c.user_name == owner)
    with book.db.read() as conn:
        return [_key_of(row) for row in conn.execute(query).all()]


def revoke_key(book, key_id: str, by: User) -> ApiKey:
    """Refuse the key from now on (its row stays, so records of what it did still name it). Admins revoke any key,
    other users their own; a unique start of the id will do."""
    from sqlalchemy import select, update

    from rag.records.tables import api_keys

    key = _key_named(book, key_id)
    if by.role is not Role.ADMIN and by.name != key.user:
        raise PermissionDenied(f"{by.name} is {by.role.value}: only admins revoke other users' keys")
    if key.revoked:
        raise ConfigError(f"key {key.key_id} ({key.prefix}…) was revoked at {key.revoked_at} already")
    revoked_at = utc_now()

    def write_row(conn, _record):
        # conditional, so two revocations racing record one change to the row
        done = conn.execute(update(api_keys).where(api_keys.c.key_id == key.key_id, api_keys.c.revoked_at.is_(None))
                            .values(revoked_at=revoked_at)).rowcount
        if not done:
            at = conn.execute(select(api_keys.c.revoked_at).where(api_keys.c.key_id == key.key_id)).scalar_one()
            raise ConfigError(f"key {key.key_id} ({key.prefix}…) was revoked at {at} already")

    append(book.db, book.checkpoints, KIND, by.name,
           {"action": "revoked", "key_id": key.key_id, "user": key.user, "prefix": key.prefix}, also=write_row)
    return ApiKey(key.key_id, key.user, key.prefix, key.label, key.created_at, revoked_at, key.last_used_at)


def user_for_key(book, secret: str) -> User:
    """The user a key acts as; AuthError for an unknown or revoked key, or a disabled user (one message for the
    first two, so a caller learns nothing about which keys exist)."""
    from sqlalchemy import select, update

    from rag.records.tables import api_keys, users

    digest = key_hash(secret.strip())
    with book.db.read() as conn:
        row = conn.execute(select(api_keys.c.key_id, api_keys.c.revoked_at,
                                  api_keys.c.last_used_at, users.c.name, users.c.role, users.c.disabled,
                                  users.c.created_at)
                           .select_from(api_keys.join(users, users.c.name == api_keys.c.user_name))
                           .where(api_keys.c.key_hash == digest)).first()
    if row is None or row.revoked_at:
        raise AuthError("unknown or revoked API key; `regcite users keys` lists yours, `regcite users key NAME` "
                        "makes one")
    if row.disabled:
        raise AuthError(f"user {row.name!r} is disabled, and so are their keys; an admin can tell you why")
    now = datetime.now(timezone.utc)
    if not row.last_used_at or _parse(row.last_used_at) < now - LAST_USED_EVERY:
        with book.db.write() as conn:
            conn.execute(update(api_keys).where(api_keys.c.key_id == row.key_id).values(last_used_at=utc_now()))
    return User(row.name, Role(row.role), False, row.created_at)


def user_for_request(book, settings, secret: str | None) -> User:
    """Who an HTTP request acts as: the local user while no users exist (auth "auto"), else the key's user."""
    if not list_users(book):
        if settings.auth == "password":
            raise AuthError("auth is \"password\" but no user exists: add an admin with "
                            "`regcite users add NAME --role admin`, then a key with `regcite users key NAME`")
        return LOCAL_USER
    if not secret:
        raise AuthError("users are defined: send an API key as `Authorization: Bearer KEY` "
                        "(`regcite users key NAME` makes one)")
    return user_for_key(book, secret)


def _existing_user(book, name: str) -> User:
    found = {u.name: u for u in list_users(book)}
    if name not in found:
        known = ", ".join(found) or "none yet"
        raise ConfigError(f"no user {name!r}; users: {known}")
    return found[name]


def _key_named(book, key_id: str) -> ApiKey:
    key_id = key_id.strip()
    matches = [k for k in list_keys(book) if k.key_id.startswith(key_id)] if key_id else []
    if not matches:
        raise ConfigError(f"no API key {key_id!r}; `regcite users keys` lists them")
    exact = [k for k in matches if k.key_id == key_id]
    if len(matches) > 1 and not exact:
        raise ConfigError(f"{key_id!r} starts {len(matches)} key ids; give more of it")
    return (exact or matches)[0]


def _key_of(row) -> ApiKey:
    return ApiKey(row.key_id, row.user_name, row.prefix, row.label, row.created_at, row.revoked_at or "",
                  row.last_used_at or "")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
