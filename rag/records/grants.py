"""Who may read which collection: grants to users or groups, and group membership; admins change them, each change
a chain record written in the same transaction as its row."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rag.access import check_label
from rag.errors import ConfigError, PermissionDenied
from rag.records.chain import append
from rag.records.db import utc_now
from rag.records.users import Role, User

# Chain record kinds of access changes (beside rag.records.chain.Kind's).
GRANT_ADDED, GRANT_REVOKED = "grant_added", "grant_revoked"
MEMBER_ADDED, MEMBER_REMOVED = "group_member_added", "group_member_removed"


class Grantee(str, Enum):
    USER = "user"
    GROUP = "group"


@dataclass(frozen=True)
class Grant:
    grantee_kind: Grantee
    grantee: str
    collection: str
    granted_by: str
    granted_at: str


def _require_admin(by: User, doing: str) -> None:
    if by.role is not Role.ADMIN:
        raise PermissionDenied(f"{by.name} is {by.role.value}: only admins {doing}")


def _user_exists(conn, name: str) -> None:
    from sqlalchemy import select

    from rag.records.tables import users

    if conn.execute(select(users.c.name).where(users.c.name == name)).first() is None:
        raise ConfigError(f"no user {name!r}; `regcite users list` shows them")


def grant(book, grantee: str, collection: str, by: User, *, kind: Grantee = Grantee.USER) -> Grant:
    """Let a user (or every member of a group) read a collection; granting what is granted already is an error."""
    from sqlalchemy import and_, insert, select

    from rag.records.tables import collection_grants as g

    _require_admin(by, "grant access to collections")
    grantee, collection = check_label(grantee, kind.value), check_label(collection, "collection")
    made = Grant(kind, grantee, collection, by.name, utc_now())

    def write_row(conn, _record):
        if kind is Grantee.USER:
            _user_exists(conn, grantee)
        if conn.execute(select(g.c.grantee).where(and_(g.c.grantee_kind == kind.value, g.c.grantee == grantee,
                                                       g.c.collection == collection))).first():
            raise ConfigError(f"{kind.value} {grantee!r} may read {collection!r} already")
        conn.execute(insert(g).values(grantee_kind=kind.value, grantee=grantee, collection=collection,
                                      granted_by=by.name, granted_at=made.granted_at))

    append(book.db, book.checkpoints, GRANT_ADDED, by.name,
           {"grantee_kind": kind.value, "grantee": grantee, "collection": collection}, also=write_row)
    return made


def revoke(book, grantee: str, collection: str, by: User, *, kind: Grantee = Grantee.USER) -> None:
    """Take a grant back; the grantee's next question no longer reads the collection."""
    from sqlalchemy import and_, delete

    from rag.records.tables import collection_grants as g

    _require_admin(by, "revoke access to collections")
    grantee, collection = check_label(grantee, kind.value), check_label(collection, "collection")

    def delete_row(conn, _record):
        gone = conn.execute(delete(g).where(and_(g.c.grantee_kind == kind.value, g.c.grantee == grantee,
                                                 g.c.collection == collection)))
        if gone.rowcount == 0:
            raise ConfigError(f"{kind.value} {grantee!r} has no grant on {collection!r}; `regcite users grants` "
                              "lists them")

    append(book.db, book.checkpoints, GRANT_REVOKED, by.name,
           {"grantee_kind": kind.value, "grantee": grantee, "collection": collection}, also=delete_row)


def add_member(book, group: str, user: str, by: User) -> None:
    from sqlalchemy import and_, insert, select

    from rag.records.tables import group_members as m

    _require_admin(by, "change groups")
    group, user = check_label(group, "group"), check_label(user, "user")

    def write_row(conn, _record):
        _user_exists(conn, user)
        if conn.execute(select(m.c.user_name).where(and_(m.c.group_name == group, m.c.user_name == user))).first():
            raise ConfigError(f"{user!r} is in group {group!r} already")
        conn.execute(insert(m).values(group_name=group, user_name=user))

    append(book.db, book.checkpoints, MEMBER_ADDED, by.name, {"group": group, "user": user}, also=write_row)


def remove_member(book, group: str, user: str, by: User) -> None:
    from sqlalchemy import and_, delete

    from rag.records.tables import group_members as m

    _require_admin(by, "change groups")
    group, user = check_label(group, "group"), check_label(user, "user")

    def delete_row(conn, _record):
        if conn.execute(delete(m).where(and_(m.c.group_name == group, m.c.user_name == user))).rowcount == 0:
            raise ConfigError(f"{user!r} is not in group {group!r}")

    append(book.db, book.checkpoints, MEMBER_REMOVED, by.name, {"group": group, "user": user}, also=delete_row)


def groups_of(book, user: str) -> tuple[str, ...]:
    from sqlalchemy import select

    from rag.records.tables import group_members as m

    with book.db.read() as conn:
        rows = conn.execute(select(m.c.group_name).where(m.c.user_name == user).order_by(m.c.group_name)).all()
    return tuple(r.group_name for r in rows)


def list_grants(book, name: str | None = None) -> list[Grant]:
    """Every grant, or those that reach one name: made to it as a user or a group, or to a group it is in."""
    from sqlalchemy import and_, or_, select

    from rag.records.tables import collection_grants as g

    query = select(g).order_by(g.c.collection, g.c.grantee_kind, g.c.grantee)
    if name is not None:
        groups = (*groups_of(book, name), name)
        query = query.where(or_(and_(g.c.grantee_kind == Grantee.USER.value, g.c.grantee == name),
                                and_(g.c.grantee_kind == Grantee.GROUP.value, g.c.grantee.in_(groups))))
    with book.db.read() as conn:
        rows = conn.execute(query).all()
    return [Grant(Grantee(r.grantee_kind), r.grantee, r.collection, r.granted_by, r.granted_at) for r in rows]


def granted_collections(book, user: str) -> frozenset[str]:
    """The collections a user's grants and groups' grants name, in one read; empty when there are none."""
    from sqlalchemy import and_, or_, select

    from rag.records.tables import collection_grants as g, group_members as m

    in_groups = select(m.c.group_name).where(m.c.user_name == user)
    query = select(g.c.collection).where(or_(and_(g.c.grantee_kind == Grantee.USER.value, g.c.grantee == user),
                                             and_(g.c.grantee_kind == Grantee.GROUP.value,
                                                  g.c.grantee.in_(in_groups))))
    with book.db.read() as conn:
        return frozenset(r.collection for r in conn.execute(query).all())
