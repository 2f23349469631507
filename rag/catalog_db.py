"""The catalog's database: SQLite in index_dir (the default) or PostgreSQL by `catalog_url`, through SQLAlchemy Core.

Engines per dialect, the single writer's locks, snapshot reads and the errors a dead or refusing server gives live
here; what the catalog holds and how it is read and written is rag/schema.py, rag/store.py and rag/writer.py, in
one SQL text for both dialects. SQLAlchemy is imported inside functions: importing the core stays light.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from rag.config import Settings, _without_password
from rag.errors import IndexLocked, IndexUnavailable

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
LOCK = "writer.lock"
# The PostgreSQL session advisory lock one writer holds per catalog database ("regcatlg"); advisory locks are
# scoped to a database, so a catalog sharing its database with the records (whose migration lock is 7263541) is
# still one writer per catalog. Unsigned halves as pg_locks shows them: classid = high 32 bits, objid = low.
WRITER_KEY = int.from_bytes(b"regcatlg", "big")
WRITER_NAME = "regcite catalog writer"  # application_name prefix, how a refused writer names the holder


@dataclass(frozen=True)
class Catalog:
    """One catalog database, and the folder of the files derived from it (vector files, BM25 folders)."""

    url: str  # password masked: what messages and records may show
    index_dir: Path
    engine: object = None  # sqlalchemy Engine, shared per URL within a process (see _engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def where(self) -> str:
        """How messages name it: the index folder for the embedded default, the database URL for a server."""
        return f"the index at {self.index_dir}" if self.is_sqlite else f"the catalog at {self.url}"

    def exists(self) -> bool:
        """Whether there may be a catalog to read: a SQLite file is not created by a reader; a server always may."""
        if not self.is_sqlite:
            return True
        database = self.engine.url.database
        return bool(database) and Path(database).exists()

    def connect(self):
        """A connection, or IndexUnavailable saying what to do when the server is down or refuses us."""
        from sqlalchemy.exc import DBAPIError

        try:
            return self.engine.connect()
        except DBAPIError as e:
            raise self.unavailable(e) from None

    def unavailable(self, error: Exception) -> IndexUnavailable:
        orig = getattr(error, "orig", None) or error
        reason = " ".join(str(orig).split("\n")[0].split()) or type(orig).__name__
        return IndexUnavailable(
            f"cannot read the index catalog at {self.url}: {reason}; start the database server, or correct "
            "catalog_url (REGCITE_CATALOG_URL: user, password, host, database) and try again")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[object]:
        """One read-only transaction: every statement in it sees the same committed state (SQLite: a deferred BEGIN
        in WAL mode, whose first read fixes the snapshot; PostgreSQL: REPEATABLE READ, READ ONLY)."""
        with self._guard(), self.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[object]:
        """One short read transaction (a look at the generation, a version's text, a lineage)."""
        with self._guard(), self.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """A server that goes away mid-read is IndexUnavailable too (SQLite's OperationalErrors are the callers')."""
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            yield
        except (OperationalError, InterfaceError) as e:
            if self.is_sqlite:
                raise
            raise self.unavailable(e) from None


def catalog_url(settings: Settings) -> str:
    """The catalog's database URL, password included (never shown: Catalog.url is masked)."""
    return settings.catalog_url or f"sqlite:///{settings.index_dir / CATALOG}"


def open_catalog(settings: Settings) -> Catalog:
    """The settings' catalog (no connection is made yet)."""
    return catalog_at(catalog_url(settings), settings.index_dir)


def catalog_at(url: str, index_dir: Path) -> Catalog:
    return Catalog(_without_password(url), index_dir, _engine(url))


def sqlite_catalog(index_dir: Path) -> Catalog:
    """The embedded default: catalog.sqlite in the index folder."""
    return catalog_at(f"sqlite:///{index_dir / CATALOG}", index_dir)


_engines: dict[tuple[str, int], object] = {}
_engines_lock = threading.Lock()


def _engine(url: str):
    """One engine per URL per process: readers that poll the generation (the app, every API replica) reuse a
    pooled PostgreSQL connection instead of paying a connect and an authentication per look. Keyed by pid too, so
    a forked child never shares its parent's sockets."""
    key = (url, os.getpid())
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create_engine(url)
    return engine


def dispose_engines(url: str | None = None) -> None:
    """Close pooled connections (of one URL, or all): before a database is dropped, or at a process's end."""
    with _engines_lock:
        for key in [k for k in _engines if url is None or k[0] == url]:
            _engines.pop(key).dispose()


def _create_engine(url: str):
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.pool import NullPool

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise IndexUnavailable(f"catalog_url is not a database URL ({_without_password(url)}): {e}") from None
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a replica's pooled connection that the server dropped (a restart, a failover) is replaced
        # instead of failing the next read.
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    # A connection per use, as sqlite3 was used before: no file handle outlives a read, and opening is cheap.
    engine = create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions are our explicit BEGINs (below)
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=FULL")  # a commit that returned survives power loss
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # pysqlite would begin lazily and never IMMEDIATE; the writer asks for IMMEDIATE (execution option), so it
        # holds the write lock from its first statement.
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def statements(script: str) -> list[str]:
    """The statements of a DDL script (none of ours has a ';' inside a statement)."""
    return [s.strip() for s in script.split(";\n") if s.strip()]


def table_exists(conn, name: str) -> bool:
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
    else:
        query = "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = :name"
    return conn.execute(text(query), {"name": name}).first() is not None


def upsert_meta(conn, items: Iterable[tuple[str, str]]) -> None:
    """Set meta keys (INSERT .. ON CONFLICT: SQLite since 3.24 and PostgreSQL speak it alike)."""
    from sqlalchemy import text

    rows = [{"key": k, "value": v} for k, v in items]
    if rows:
        conn.execute(text("INSERT INTO meta (key, value) VALUES (:key, :value) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value"), rows)


# --- the single writer's locks ----------------------------------------------------------------------------------

def lock_index_dir(index_dir: Path) -> int:
    """The fcntl lock in index_dir, for every catalog: it guards the folder's vector files and BM25 folders (and a
    SQLite catalog). Returns the descriptor to pass to unlock_index_dir; IndexLocked naming the holder's pid."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise IndexLocked(
            f"another regcite process (pid {holder}) is writing to the index at {index_dir}; "
            f"wait for it to finish, or stop it (kill {holder}) and run again"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def try_lock_index_dir(index_dir: Path) -> int | None:
    """The same lock without waiting or raising: None while a writer holds it (a reader's optional upkeep)."""
    try:
        fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def unlock_index_dir(fd: int, *, clear: bool = True) -> None:
    if clear:
        os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def open_writer_connection(catalog: Catalog):
    """The writer's own connection. On PostgreSQL it holds the session advisory lock for the writer's life (the
    server frees it when the connection ends, a SIGKILLed writer's included); a second writer anywhere is refused
    with IndexLocked naming the holder. SQLite's transactions on it BEGIN IMMEDIATE (the fcntl lock is taken
    first, by the caller). Close it with close_writer_connection."""
    from sqlalchemy import text

    if catalog.is_sqlite:
        Path(catalog.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        return catalog.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
    conn = catalog.connect()
    try:
        with catalog._guard():
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": WRITER_KEY}).scalar()
            if not got:
                holder = writer_holder(conn)
                conn.rollback()
                raise IndexLocked(
                    f"another regcite process ({holder}) is writing to the catalog at {catalog.url}; wait for it "
                    "to finish, or stop it and run again (PostgreSQL frees its lock the moment it exits)")
            name = f"{WRITER_NAME} pid {os.getpid()} on {socket.gethostname()}"[:63]  # NAMEDATALEN - 1
            conn.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name})
            conn.commit()  # the session lock and name outlive this transaction; the writer's own begins next
    except BaseException:
        conn.close()
        raise
    return conn


def writer_holder(conn) -> str:
    """Who holds the writer lock, as its session named itself: "pid 123 on host", else the server's backend pid."""
    from sqlalchemy import text

    row = conn.execute(text(
        "SELECT a.application_name, l.pid FROM pg_catalog.pg_locks l "
        "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
        "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"),
        {"hi": WRITER_KEY >> 32, "lo": WRITER_KEY & 0xFFFFFFFF}).first()
    if row is None:
        return "which has just finished"
    name, backend = row
    if name and name.startswith(WRITER_NAME):
        return name[len(WRITER_NAME):].strip()
    return f"PostgreSQL backend pid {backend}"


def close_writer_connection(catalog: Catalog, conn) -> None:
    """Roll back what is uncommitted, free the advisory lock, and hand the connection back."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        if conn.in_transaction():
            conn.rollback()
        if not catalog.is_sqlite:
            conn.execute(text("SELECT pg_advisory_unlock(:key), set_config('application_name', '', false)"),
                         {"key": WRITER_KEY})
            conn.commit()
    except DBAPIError as e:  # the server went away: it dropped the lock with the session
        log.warning("closing the catalog writer: %s", getattr(e, "orig", e))
        conn.invalidate()
    finally:
        conn.close()
