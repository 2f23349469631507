"""API keys: stored hashed, shown once, each acting as its user; revoked keys and disabled users are refused; creating
and revoking are chain records that never hold the secret; `regcite users key|keys|revoke-key`. On SQLite and
PostgreSQL alike (the `book` fixture of tests/records/conftest.py)."""
from __future__ import annotations

import json

import pytest

from rag.errors import AuthError, ConfigError, PermissionDenied
from rag.records.api_keys import SECRET_PREFIX, create_key, list_keys, revoke_key, user_for_key, user_for_request
from rag.records.users import LOCAL_USER, Role, add_user, disable_user
from regcite.cli import main


@pytest.fixture
def people(book):
    ada = add_user(book, "ada", Role.ADMIN, "correct horse battery", by=LOCAL_USER)
    ann = add_user(book, "ann", Role.ASKER, "ann's long password", by=ada)
    rita = add_user(book, "rita", Role.REVIEWER, "rita's long password", by=ada)
    return ada, ann, rita


def _all_stored_text(book) -> str:
    """Every value in every table of the records database, as one text to search for a leaked secret."""
    from sqlalchemy import inspect, text

    with book.db.read() as conn:
        names = inspect(conn).get_table_names()
        return "\n".join(str(row) for name in names for row in conn.execute(text(f'SELECT * FROM "{name}"')))


def test_a_key_acts_as_its_user_and_only_its_hash_is_stored(book, people):
    ada, ann, _ = people
    made = create_key(book, "ann", "Open WebUI", by=ada)
    assert made.secret.startswith(SECRET_PREFIX) and len(made.secret) > 40
    assert made.key.prefix == made.secret[:12] and made.key.label == "Open WebUI"
    assert user_for_key(book, made.secret) == ann
    stored = _all_stored_text(book)
    assert made.secret not in stored and made.secret[12:] not in stored  # nor in the chain record
    assert made.key.key_id in stored and made.key.prefix in stored
    assert list_keys(book, "ann")[0].last_used_at  # set on use


def test_revoked_keys_unknown_keys_and_disabled_users_are_refused(book, people):
    ada, ann, rita = people
    ann_key, rita_key = create_key(book, "ann", "", by=ada), create_key(book, "rita", "", by=ada)
    revoke_key(book, ann_key.key.key_id[:8], by=ada)
    with pytest.raises(AuthError, match="unknown or revoked"):
        user_for_key(book, ann_key.secret)
    with pytest.raises(AuthError, match="unknown or revoked"):
        user_for_key(book, ann_key.secret + "x")
    disable_user(book, "rita", by=ada)
    with pytest.raises(AuthError, match="disabled"):
        user_for_key(book, rita_key.secret)
    with pytest.raises(ConfigError, match="revoked at"):
        revoke_key(book, ann_key.key.key_id, by=ada)


def test_users_make_and_revoke_their_own_keys_only(book, people):
    ada, ann, rita = people
    own = create_key(book, "ann", "notebook", by=ann)
    with pytest.raises(PermissionDenied, match="only admins make keys for other users"):
        create_key(book, "rita", "", by=ann)
    others = create_key(book, "rita", "", by=rita)
    with pytest.raises(PermissionDenied, match="only admins revoke other users' keys"):
        revoke_key(book, others.key.key_id, by=ann)
    assert revoke_key(book, own.key.key_id, by=ann).revoked
    with pytest.raises(ConfigError, match="no user 'bob'"):
        create_key(book, "bob", "", by=ada)


def test_key_changes_are_chain_records_naming_who_without_the_secret(book, people):
    from rag.records.verify_chain import verify_chain

    ada = people[0]
    made = create_key(book, "ann", "ci", by=ada)
    revoke_key(book, made.key.key_id, by=ada)
    from sqlalchemy import select

    from rag.records.tables import records

    with book.db.read() as conn:
        rows = conn.execute(select(records.c.kind, records.c.user_name, records.c.body)
                            .where(records.c.kind == "api_key").order_by(records.c.seq)).all()
    bodies = [json.loads(r.body) for r in rows]
    assert [(r.user_name, b["action"], b["key_id"], b["user"]) for r, b in zip(rows, bodies)] == [
        ("ada", "created", made.key.key_id, "ann"), ("ada", "revoked", made.key.key_id, "ann")]
    report = verify_chain(book.db, book.checkpoints)
    assert report.holds and report.unsigned_tail == 0


def test_a_request_needs_no_key_only_while_no_users_exist(book, record_settings):
    settings = record_settings
    assert user_for_request(book, settings, None) == LOCAL_USER
    with pytest.raises(AuthError, match="auth is \"password\""):
        user_for_request(book, settings.replace(auth="password"), None)
    add_user(book, "ada", Role.ADMIN, "correct horse battery", by=LOCAL_USER)
    with pytest.raises(AuthError, match="Authorization: Bearer"):
        user_for_request(book, settings, None)


def test_users_key_cli_prints_the_secret_once_and_lists_and_revokes(record_settings, book, people, monkeypatch,
                                                                    capsys):
    settings = record_settings
    monkeypatch.setenv("REGCITE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REGCITE_PASSWORD", "correct horse battery")
    monkeypatch.setenv("REGCITE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", settings.audit_key_file)
    assert main(["--user", "ada", "users", "key", "ann", "--label", "Open WebUI", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["secret"].startswith(SECRET_PREFIX) and made["user"] == "ann" and made["label"] == "Open WebUI"
    assert main(["--user", "ada", "users", "keys", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["key_id"], k["revoked_at"]) for k in listed] == [(made["key_id"], None)]
    assert "secret" not in listed[0] and made["secret"] not in json.dumps(listed)
    assert main(["--user", "ada", "users", "revoke-key", made["key_id"][:8]]) == 0
    assert f"revoked API key {made['key_id']}" in capsys.readouterr().out
    monkeypatch.setenv("REGCITE_PASSWORD", "ann's long password")
    assert main(["--user", "ann", "users", "keys", "rita"]) == 4  # PermissionDenied: an asker sees only their own
    assert "only admins list other users' keys" in capsys.readouterr().err
    assert main(["--user", "ann", "users", "key", "ann"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("API key ") and SECRET_PREFIX in out
