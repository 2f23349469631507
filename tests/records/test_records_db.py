"""Opening the records database: migrated on first open, a newer schema refused, a dead server named clearly."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from rag.errors import RecordsUnavailable
from rag.records.db import HEAD_REVISION, current_revision, open_records_db


def test_a_new_database_is_migrated_to_the_head_revision_once(database_url):
    db = open_records_db(database_url)
    assert current_revision(db) == HEAD_REVISION
    db.dispose()
    again = open_records_db(database_url, migrate=False)  # already at head: nothing to do
    with again.read() as conn:
        assert conn.execute(text("SELECT seq FROM chain_head")).scalar_one() == 0
    again.dispose()


def test_a_database_from_a_newer_release_is_refused(database_url):
    db = open_records_db(database_url)
    with db.writer.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    with pytest.raises(RecordsUnavailable, match="newer regcite"):
        open_records_db(database_url)


def test_an_unmigrated_database_is_refused_when_migrations_are_off(tmp_path):
    with pytest.raises(RecordsUnavailable, match="revision none"):
        open_records_db(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)


def test_a_server_that_is_not_there_is_named_without_its_password():
    with pytest.raises(RecordsUnavailable) as caught:
        open_records_db("postgresql+psycopg://someone:s3cret@127.0.0.1:1/records")
    assert "cannot open the records database" in str(caught.value) and "s3cret" not in str(caught.value)
