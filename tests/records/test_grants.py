"""Collection grants and groups: admins grant and revoke, to a user or a group; each change is one chain record
(verify still holds) written with its row; a bad name, an unknown user or a repeated change is refused and changes
nothing. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from rag.access import access_for
from rag.errors import ConfigError, PermissionDenied
from rag.records.audit_export import records_between
from rag.records.grants import (GRANT_ADDED, GRANT_REVOKED, MEMBER_ADDED, MEMBER_REMOVED, Grantee, add_member,
                                grant, granted_collections, groups_of, list_grants, remove_member, revoke)
from rag.records.users import LOCAL_USER, Role, User, add_user, disable_user
from rag.records.verify_chain import verify_chain
from tests.records.conftest import ADMIN, PASSWORD

ANN, REX = User("ann", Role.ASKER), User("rex", Role.REVIEWER)


@pytest.fixture
def staff(book):
    add_user(book, ADMIN.name, Role.ADMIN, PASSWORD, by=LOCAL_USER)
    for u in (ANN, REX):
        add_user(book, u.name, u.role, PASSWORD, by=ADMIN)
    return book


def test_a_user_reads_what_is_granted_to_them_or_their_groups_and_nothing_else(staff):
    book = staff
    assert granted_collections(book, "ann") == frozenset()
    assert access_for(book, ANN).collections == frozenset()  # fail closed: no grant, nothing
    assert access_for(book, ADMIN).collections is None and access_for(book, LOCAL_USER).everything
    grant(book, "ann", "public", ADMIN)
    add_member(book, "examiners", "ann", ADMIN)
    grant(book, "examiners", "supervisory", ADMIN, kind=Grantee.GROUP)
    assert access_for(book, ANN).collections == {"public", "supervisory"}
    assert groups_of(book, "ann") == ("examiners",)
    assert [(g.grantee_kind, g.grantee, g.collection) for g in list_grants(book, "ann")] == [
        (Grantee.USER, "ann", "public"), (Grantee.GROUP, "examiners", "supervisory")]
    assert access_for(book, REX).collections == frozenset()
    remove_member(book, "examiners", "ann", ADMIN)
    revoke(book, "ann", "public", ADMIN)
    assert access_for(book, ANN).collections == frozenset()
    assert [g.grantee for g in list_grants(book)] == ["examiners"]  # the group's grant stays


def test_each_change_is_a_chain_record_and_the_chain_holds(staff):
    book = staff
    grant(book, "ann", "public", ADMIN)
    add_member(book, "examiners", "rex", ADMIN)
    remove_member(book, "examiners", "rex", ADMIN)
    revoke(book, "ann", "public", ADMIN)
    kinds = [(r.kind, r.user, r.body) for r in records_between(book)][-4:]
    assert kinds == [
        (GRANT_ADDED, "ada", {"grantee_kind": "user", "grantee": "ann", "collection": "public"}),
        (MEMBER_ADDED, "ada", {"group": "examiners", "user": "rex"}),
        (MEMBER_REMOVED, "ada", {"group": "examiners", "user": "rex"}),
        (GRANT_REVOKED, "ada", {"grantee_kind": "user", "grantee": "ann", "collection": "public"}),
    ]
    assert verify_chain(book.db, book.checkpoints).holds


@pytest.mark.parametrize("change, error, message", [
    (lambda b: grant(b, "ann", "public", ANN), PermissionDenied, "only admins grant access"),
    (lambda b: revoke(b, "ann", "public", REX), PermissionDenied, "only admins revoke access"),
    (lambda b: add_member(b, "examiners", "ann", ANN), PermissionDenied, "only admins change groups"),
    (lambda b: grant(b, "nobody", "public", ADMIN), ConfigError, "no user 'nobody'"),
    (lambda b: add_member(b, "examiners", "nobody", ADMIN), ConfigError, "no user 'nobody'"),
    (lambda b: grant(b, "ann", " ", ADMIN), ConfigError, "a collection name is 1-200 printable characters"),
    (lambda b: grant(b, "ann", "a\x00b", ADMIN), ConfigError, "printable"),
    (lambda b: revoke(b, "ann", "public", ADMIN), ConfigError, "has no grant on 'public'"),
    (lambda b: remove_member(b, "examiners", "ann", ADMIN), ConfigError, "'ann' is not in group 'examiners'"),
])
def test_a_change_that_cannot_be_made_is_refused_and_records_nothing(staff, change, error, message):
    before = len(list(records_between(staff)))
    with pytest.raises(error, match=message):
        change(staff)
    assert len(list(records_between(staff))) == before and list_grants(staff) == []


def test_granting_twice_is_refused_and_a_disabled_user_reads_nothing(staff):
    grant(staff, "ann", "public", ADMIN)
    with pytest.raises(ConfigError, match="may read 'public' already"):
        grant(staff, "ann", "public", ADMIN)
    disable_user(staff, "ann", by=ADMIN)
    assert access_for(staff, User("ann", Role.ASKER, disabled=True)).collections == frozenset()
