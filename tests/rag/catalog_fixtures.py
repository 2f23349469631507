"""The `catalog` fixture: settings whose index catalog is SQLite in the data dir, or a fresh PostgreSQL database.

Import it into a test module (`from tests.rag.catalog_fixtures import catalog  # noqa: F401`) and ask for `catalog`
instead of `settings`: every test then runs on both. PostgreSQL comes from REGCITE_TEST_POSTGRES (an admin URL that
may create databases; scripts/postgres.sh starts the packaged cluster and prints it), a database per test.
"""
from __future__ import annotations

import os

import pytest

from rag.config import load_settings

POSTGRES = os.environ.get("REGCITE_TEST_POSTGRES", "")
NO_POSTGRES = ("PostgreSQL variant: set REGCITE_TEST_POSTGRES to an admin URL (scripts/postgres.sh starts the "
               "packaged cluster and prints it)")


def fresh_postgres_database() -> tuple[str, object]:
    """A new empty database on the test cluster: (its URL, a function that drops it)."""
    from benchmarks.review_concurrency import fresh_postgres_database as fresh

    return fresh(POSTGRES)


def catalog_settings(tmp_path, catalog_url: str = "", **overrides):
    return load_settings(env={}, overrides={"data_dir": tmp_path / "data", "catalog_url": catalog_url,
                                            "audit_key_file": str(tmp_path / "keys" / "audit.key"), **overrides})


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request, tmp_path):
    if request.param == "sqlite":
        yield catalog_settings(tmp_path)
        return
    if not POSTGRES:
        pytest.skip(NO_POSTGRES)
    from rag.catalog_db import dispose_engines

    url, drop = fresh_postgres_database()
    yield catalog_settings(tmp_path, url)
    dispose_engines(url)  # the pooled connections go first, so the database drops at once
    drop()
