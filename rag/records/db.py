"""The records database: SQLite in the data directory by default, PostgreSQL by URL; migrated by Alembic on open.

It has its own writer, apart from the index's, so recording an answer or a review never waits for an ingest.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from rag.errors import RecordsUnavailable

_MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0002"


@dataclass(frozen=True)
class RecordsDB:
    url: str  # password masked: what messages may show
    writer: object  # sqlalchemy Engine
    reader: object

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[object]:
        """One transaction that holds the database's write lock from its first statement (SQLite: BEGIN IMMEDIATE),
        so two appends never read the same chain head."""
        with self.writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[object]:
        with self.reader.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def open_records_db(url: str, *, migrate: bool = True) -> RecordsDB:
    """Open (creating and migrating where needed) the database at `url`."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise RecordsUnavailable(f"database_url is not a database URL: {e}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        writer = create_engine(parsed, connect_args={"timeout": 60})
        reader = create_engine(parsed, connect_args={"timeout": 60})
        _sqlite_transactions(writer, "BEGIN IMMEDIATE", event)
        _sqlite_transactions(reader, "BEGIN", event)
    else:
        writer = create_engine(parsed, pool_pre_ping=True)
        reader = writer
    db = RecordsDB(shown, writer, reader)
    try:
        if migrate:
            _upgrade(db)
        else:
            _check_revision(db)
    except (OperationalError, ProgrammingError) as e:
        db.dispose()
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        raise RecordsUnavailable(f"cannot open the records database {shown}: {reason}") from None
    return db


def _sqlite_transactions(engine, begin: str, event) -> None:
    """pysqlite opens transactions lazily and never as IMMEDIATE; take that over (SQLAlchemy's documented recipe)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(begin)


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(db: RecordsDB) -> str | None:
    with db.writer.connect() as conn:
        return _revision_in(conn)


def _revision_in(conn) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(db: RecordsDB) -> None:
    from alembic import command
    from sqlalchemy import text

    revision = current_revision(db)
    if revision == HEAD_REVISION:
        return
    _refuse_newer(db, revision)
    with db.writer.begin() as conn:
        if db.dialect == "postgresql":  # two processes opening a new database at once migrate it once
            conn.execute(text("SELECT pg_advisory_xact_lock(7263541)"))
        if _revision_in(conn) != HEAD_REVISION:  # another process may have migrated while this one waited
            command.upgrade(_alembic_config(conn), "head")


def _check_revision(db: RecordsDB) -> None:
    revision = current_revision(db)
    _refuse_newer(db, revision)
    if revision != HEAD_REVISION:
        raise RecordsUnavailable(f"the records database {db.url} is at revision {revision or 'none'}; "
                                 f"open it once with migrations to reach {HEAD_REVISION}")


def _refuse_newer(db: RecordsDB, revision: str | None) -> None:
    from alembic.script import ScriptDirectory

    known = {s.revision for s in ScriptDirectory(str(_MIGRATIONS)).walk_revisions()}
    if revision is not None and revision not in known:
        raise RecordsUnavailable(f"the records database {db.url} is at revision {revision}, written by a newer "
                                 "regcite; upgrade regcite before opening it")


def utc_now() -> str:
    """ISO-8601 UTC with microseconds and a Z: one fixed width, so times sort and compare as text."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
