"""Records tests run against SQLite and PostgreSQL alike: `database_url` is parametrized over both.

PostgreSQL comes from REGCITE_TEST_POSTGRES (an admin URL that may create databases; scripts/test.sh starts the
packaged cluster and sets it); each test gets a database of its own, dropped afterwards.
"""
from __future__ import annotations

import os
from datetime import date

import pytest

from rag.config import load_settings
from rag.records.book import open_book
from rag.records.users import Role, User

POSTGRES = os.environ.get("REGCITE_TEST_POSTGRES", "")


def fresh_postgres_database() -> tuple[str, object]:
    """A new empty database on the test cluster: (its URL, a function that drops it)."""
    from benchmarks.review_concurrency import fresh_postgres_database as fresh

    return fresh(POSTGRES)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.db'}"
        return
    if not POSTGRES:
        pytest.skip("PostgreSQL variant: set REGCITE_TEST_POSTGRES to an admin URL (scripts/test.sh starts the "
                    "packaged cluster and sets it)")
    url, drop = fresh_postgres_database()
    yield url
    drop()


@pytest.fixture
def record_settings(tmp_path, database_url):
    return load_settings(env={}, overrides={
        "data_dir": tmp_path / "data", "database_url": database_url,
        "audit_key_file": str(tmp_path / "keys" / "audit.key")})


@pytest.fixture
def book(record_settings):
    opened = open_book(record_settings)
    yield opened
    opened.db.dispose()


ADMIN = User("ada", Role.ADMIN)
PASSWORD = "correct horse battery"


def rule(effective: str, retention: str = "25 months") -> str:
    return (f"# 12 CFR Part 900 — Sample Records Rule\n\nEffective date: {effective}\n\n## § 900.1 Retention.\n\n"
            f"(a) A creditor shall retain records of each application for {retention}.\n\n"
            "(b) A creditor shall keep notices of action taken in writing.\n\n"
            "## § 900.2 Notices.\n\n(a) A creditor shall notify an applicant of action taken within 30 days.\n")


@pytest.fixture
def rule_pipeline(tmp_path, record_settings):
    """A pipeline over one version of a small rule (hash embedder, extractive backend)."""
    from ingest.pipeline import ingest_paths
    from rag.pipeline import open_pipeline
    from tests.fakes import HashEmbedder

    source = tmp_path / "part900_2011.md"
    source.write_text(rule("2011-12-30"), encoding="utf-8")
    embedder = HashEmbedder()
    ingest_paths([source], record_settings, progress=False, embedder=embedder)
    return open_pipeline(record_settings, embedder=embedder)


AS_OF = date(2012, 6, 1)
