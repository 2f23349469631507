"""Users: argon2 hashes, the first user an admin, roles enforced, disabled users refused, changes on the chain."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from rag.errors import AuthError, ConfigError, PermissionDenied
from rag.records.users import LOCAL_USER, Role, User, acting_user, add_user, authenticate, disable_user, list_users
from rag.records.verify_chain import verify_chain
from tests.records.conftest import ADMIN, PASSWORD


def test_with_no_users_everyone_is_the_local_user_until_an_admin_exists(book, record_settings):
    assert acting_user(book, record_settings, None, None) is LOCAL_USER
    with pytest.raises(ConfigError, match="first user must be an admin"):
        add_user(book, "ann", Role.ASKER, PASSWORD, by=LOCAL_USER)
    add_user(book, "ada", Role.ADMIN, PASSWORD, by=LOCAL_USER)
    with pytest.raises(AuthError, match="--user NAME or REGCITE_USER"):
        acting_user(book, record_settings, None, None)
    assert acting_user(book, record_settings, "ada", PASSWORD).role is Role.ADMIN


def test_auth_password_refuses_to_run_without_users(book, record_settings):
    with pytest.raises(AuthError, match="no user exists"):
        acting_user(book, record_settings.replace(auth="password"), None, None)


def test_passwords_are_argon2_hashes_and_a_wrong_one_is_refused_alike(book):
    add_user(book, "ada", Role.ADMIN, PASSWORD, by=LOCAL_USER)
    with book.db.read() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for name, password in (("ada", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(AuthError, match="^wrong user name or password$"):
            authenticate(book, name, password)


def test_only_admins_administer_and_disabled_users_cannot_log_in(book):
    add_user(book, "ada", Role.ADMIN, PASSWORD, by=LOCAL_USER)
    rex = add_user(book, "rex", Role.REVIEWER, PASSWORD, by=ADMIN)
    with pytest.raises(PermissionDenied, match="only admins add users"):
        add_user(book, "eve", Role.ADMIN, PASSWORD, by=rex)
    with pytest.raises(PermissionDenied):
        disable_user(book, "ada", by=User("rex", Role.REVIEWER))
    with pytest.raises(ConfigError, match="exists already"):
        add_user(book, "rex", Role.ASKER, PASSWORD, by=ADMIN)
    with pytest.raises(ConfigError, match="at least"):
        add_user(book, "short", Role.ASKER, "abc", by=ADMIN)
    disable_user(book, "rex", by=ADMIN)
    with pytest.raises(AuthError, match="disabled"):
        authenticate(book, "rex", PASSWORD)
    assert [(u.name, u.disabled) for u in list_users(book)] == [("ada", False), ("rex", True)]
    report = verify_chain(book.db, book.checkpoints)
    assert report.holds and report.records == 3  # two users added, one disabled: each a record


def test_a_name_is_any_printable_text_kept_as_given(book):
    odd = add_user(book, "<script>alert(1)</script>", Role.ADMIN, PASSWORD, by=LOCAL_USER)
    assert odd.name == "<script>alert(1)</script>"
    for bad in ("", "tab\there", "x" * 65, "local"):
        with pytest.raises(ConfigError):
            add_user(book, bad, Role.ASKER, PASSWORD, by=odd)
