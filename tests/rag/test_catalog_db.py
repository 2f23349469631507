"""The catalog's database on SQLite and PostgreSQL: one schema, snapshot reads, the writer lock, clear errors."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from rag.catalog_db import (close_writer_connection, open_catalog, open_writer_connection, statements,
                            table_exists, upsert_meta)
from rag.errors import IndexLocked, IndexUnavailable
from rag.schema import PG_SCHEMA, SCHEMA
from tests.rag.catalog_fixtures import POSTGRES, catalog, catalog_settings  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
POSTGRESQL_ONLY = pytest.mark.parametrize("catalog", ["postgresql"], indirect=True)


def create_schema(catalog_):
    conn = open_writer_connection(catalog_)
    try:
        with conn.begin():
            for statement in statements(SCHEMA if catalog_.is_sqlite else PG_SCHEMA):
                conn.exec_driver_sql(statement)
    finally:
        close_writer_connection(catalog_, conn)


def meta_value(conn, key: str):
    return conn.execute(text("SELECT value FROM meta WHERE key = :key"), {"key": key}).scalar()


def test_a_reader_snapshot_does_not_see_a_commit_made_during_it(catalog):
    opened = open_catalog(catalog)
    create_schema(opened)
    writer = open_writer_connection(opened)
    try:
        with writer.begin():
            upsert_meta(writer, [("generation", "1"), ("dim", "8")])
        with opened.snapshot() as conn:
            assert meta_value(conn, "generation") == "1"
            with writer.begin():
                upsert_meta(writer, [("generation", "2")])  # the upsert replaces: one row per key
            assert meta_value(conn, "generation") == "1"  # the same snapshot, to its end
            assert conn.execute(text("SELECT COUNT(*) FROM meta")).scalar() == 2
        with opened.snapshot() as conn:
            assert meta_value(conn, "generation") == "2"
    finally:
        close_writer_connection(opened, writer)


@POSTGRESQL_ONLY  # SQLite readers are read-only by convention; PostgreSQL enforces it
def test_a_snapshot_is_read_only_on_postgresql(catalog):
    opened = open_catalog(catalog)
    create_schema(opened)
    from sqlalchemy.exc import InternalError

    with pytest.raises(InternalError, match="read-only"):
        with opened.snapshot() as conn:
            upsert_meta(conn, [("generation", "9")])


def test_the_table_check_tells_a_catalog_without_schema_on_both(catalog):
    opened = open_catalog(catalog)
    catalog.index_dir.mkdir(parents=True)
    with opened.connect() as conn:
        assert not table_exists(conn, "meta")
    create_schema(opened)
    with opened.connect() as conn:
        assert table_exists(conn, "meta") and table_exists(conn, "lineage") and not table_exists(conn, "nothing")


def _columns_sqlite(path: Path) -> dict[str, list[tuple[str, bool]]]:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    out = {t: [(r[1], bool(r[3] or r[5])) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    conn.close()
    return out


@POSTGRESQL_ONLY
def test_the_postgresql_schema_has_the_sqlite_schemas_tables_and_columns(catalog, tmp_path):
    opened = open_catalog(catalog)
    create_schema(opened)
    with opened.connect() as conn:
        rows = conn.execute(text(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")).all()
    pg: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in rows:
        pg.setdefault(table, []).append((column, nullable == "NO"))
    assert pg["lineage"].pop(0) == ("rowid", True)  # SQLite's implicit rowid, made explicit
    assert pg == _columns_sqlite(tmp_path / "schema.sqlite")


# --- the writer lock on PostgreSQL ------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    from rag.config import load_settings
    from rag.writer import open_writer

    settings = load_settings(env={}, overrides={"data_dir": sys.argv[1], "catalog_url": sys.argv[2]})
    with open_writer(settings, "fake-8", 8):
        print("locked", flush=True)
        sys.stdin.read()
""")


@POSTGRESQL_ONLY  # SQLite's fcntl lock: tests/rag/test_store.py
def test_a_second_postgresql_writer_is_refused_naming_the_holder_until_it_is_sigkilled(catalog, tmp_path):
    """Two machines' writers (here: two data dirs, so no shared fcntl lock) on one PostgreSQL catalog."""
    from rag.writer import open_writer
    from tests.rag.test_store import add

    other = catalog_settings(tmp_path / "machine-b", catalog.catalog_url)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(catalog.data_dir), catalog.catalog_url],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLocked) as refused:
            open_writer(other, "fake-8", 8).__enter__()
        message = str(refused.value)
        assert f"pid {holder.pid} on {socket.gethostname()}" in message and "wait" in message
        assert "regcite:***@" in message and ":regcite@" not in message  # the password never shows
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:  # the server frees the lock once it sees the connection gone
            try:
                writer = open_writer(other, "fake-8", 8).__enter__()
                break
            except IndexLocked:
                assert time.monotonic() < deadline, "the SIGKILLed writer's lock was never freed"
                time.sleep(0.1)
        try:
            add(writer, 1)
            assert writer.commit() == 1
        finally:
            writer.__exit__(None, None, None)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@POSTGRESQL_ONLY
def test_a_postgresql_writer_that_closes_frees_the_lock_for_the_next(catalog):
    opened = open_catalog(catalog)
    first = open_writer_connection(opened)
    with pytest.raises(IndexLocked, match=rf"pid {os.getpid()} on"):
        open_writer_connection(opened)
    close_writer_connection(opened, first)
    close_writer_connection(opened, open_writer_connection(opened))


# --- a server that is down or refuses us ------------------------------------------------------------------------

def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refusing_urls() -> dict[str, tuple[str, str]]:
    """case -> (catalog URL, the password as it would show in a URL, which no message may)."""
    cases = {"down": (f"postgresql+psycopg://regcite:s3cret@127.0.0.1:{_dead_port()}/regcite", ":s3cret@")}
    if POSTGRES:
        from sqlalchemy.engine import make_url

        admin = make_url(POSTGRES)
        cases["wrong password"] = (admin.set(password="s3cret").render_as_string(hide_password=False), ":s3cret@")
        cases["no such database"] = (admin.set(database="no_such_catalog").render_as_string(hide_password=False),
                                     f":{admin.password}@")
    return cases


@pytest.mark.parametrize("case", ["down", "wrong password", "no such database"])
def test_an_unreachable_or_refusing_catalog_server_says_what_to_do_without_the_password(case, tmp_path):
    cases = _refusing_urls()
    if case not in cases:
        pytest.skip(f"{case}: needs a PostgreSQL server (REGCITE_TEST_POSTGRES)")
    url, secret = cases[case]
    opened = open_catalog(catalog_settings(tmp_path, url))
    for attempt in (lambda: opened.snapshot().__enter__(), lambda: open_writer_connection(opened)):
        with pytest.raises(IndexUnavailable) as err:
            attempt()
        message = str(err.value)
        assert "catalog_url" in message and ":***@" in message and secret not in message
        assert {"down": "refused", "wrong password": "password", "no such database": "no_such_catalog"}[case] in message
