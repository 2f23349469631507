"""Replicas are stateless (issue 17, acceptance 4): two `regcite serve` processes and one `regcite ui` process with the
same settings, over one PostgreSQL and one Milvus Lite server process, serve the same index generation and record
their answers, asked at the same time, into one audit chain that `regcite audit verify` finds intact.

Everything is real and on loopback: the sample corpus ingested by `regcite ingest`, users and API keys made by
`regcite users`, answers asked over HTTP with those keys and in headless Chromium after logging in. The "faiss"
variant runs the same replicas on the embedded default (FAISS and the SQLite catalog in one shared data folder,
records in PostgreSQL), so a failure of the Milvus variant alone points at the Milvus + PostgreSQL path.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rag.config import load_settings
from rag.records.users import Role, User
from tests.api.conftest import (ADVERSE_ACTION, REG_B_QUESTION, ROOT, recorded_answers, start_server,
                                stop_server)
from tests.ui.test_e2e import browser, new_page, save_screenshot, serve, stop  # noqa: F401 (browser: a fixture)
from tests.ui.test_review_e2e import PASSWORD, ask, log_in

pytestmark = pytest.mark.e2e

POSTGRES = os.environ.get("REGCITE_TEST_POSTGRES", "")
ADA, ANN, BOB = User("ada", Role.ADMIN), User("ann", Role.ASKER), User("bob", Role.ASKER)
QUESTIONS = (REG_B_QUESTION, "What must a creditor keep records of, and for how long?")
ASKS_PER_SERVER = 3  # per API replica, all in flight at once with the app's
SET_UP_RECORDS = 3 + 2 + 2  # the chain's records before any answer: three users added, two grants, two API keys


@pytest.fixture
def milvus_server(tmp_path):
    """One Milvus Lite server process on a free loopback port: what every replica's MilvusClient talks to."""
    from tests.milvus_fixtures import milvus_lite_server

    with milvus_lite_server(tmp_path / "milvus") as server:
        yield server


@pytest.fixture
def postgres_databases():
    """Two fresh databases on the test cluster: (catalog URL, records URL)."""
    if not POSTGRES:
        pytest.skip("needs PostgreSQL: set REGCITE_TEST_POSTGRES to an admin URL (scripts/postgres.sh prints one)")
    from tests.records.conftest import fresh_postgres_database

    catalog, drop_catalog = fresh_postgres_database()
    records, drop_records = fresh_postgres_database()
    yield catalog, records
    drop_records()
    drop_catalog()


@pytest.fixture(params=["milvus", "faiss"])
def replica_settings(request, tmp_path, postgres_databases, monkeypatch):
    """The one set of settings every process gets (as the compose file's x-regcite-scale-env gives every replica),
    the password in PGPASSWORD for libpq rather than in the URLs, as there."""
    from sqlalchemy.engine import make_url

    catalog, records = (make_url(u) for u in postgres_databases)
    if catalog.password:
        monkeypatch.setenv("PGPASSWORD", catalog.password)  # every process started below inherits it
    catalog, records = (u.set(password=None).render_as_string(hide_password=False) for u in (catalog, records))
    stores = {}
    if request.param == "milvus":
        milvus = request.getfixturevalue("milvus_server")
        stores = {"index_backend": "milvus", "milvus_uri": milvus.uri, "catalog_url": catalog}
    return load_settings(env={}, overrides={
        "data_dir": tmp_path / "data", "database_url": records, "audit_key_file": str(tmp_path / "keys" / "audit.key"),
        "audit_checkpoints": str(tmp_path / "keys" / "checkpoints.jsonl"), "llm_backend": "extractive", **stores})


def regcite(settings, *argv: str, stdin: str = "", user: User | None = None) -> subprocess.CompletedProcess:
    """One `regcite` command line as its own process, with the replicas' settings; exits 0 or the test fails."""
    from regcite.ui_cmd import settings_env

    env = {**os.environ, **settings_env(settings), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("REGCITE_CONFIG", None)
    if user is not None:
        env |= {"REGCITE_USER": user.name, "REGCITE_PASSWORD": PASSWORD}
    done = subprocess.run([sys.executable, "-m", "regcite.cli", *argv], env=env, cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"regcite {' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def set_up_library(settings) -> dict[str, str]:
    """Ingest the sample corpus, add ada (admin) and the askers ann and bob (granted the default collection), and
    make each asker an API key; returns their keys by name."""
    report = regcite(settings, "ingest", "--no-progress", "--json", str(ROOT / "corpus"))
    assert json.loads(report.stdout[report.stdout.index("{"):])["added"] >= 4, report.stdout
    regcite(settings, "users", "add", ADA.name, "--role", "admin", stdin=PASSWORD + "\n")
    keys = {}
    for asker in (ANN, BOB):
        regcite(settings, "users", "add", asker.name, "--role", "asker", stdin=PASSWORD + "\n", user=ADA)
        regcite(settings, "users", "grant", asker.name, "default", user=ADA)
        made = regcite(settings, "users", "key", asker.name, "--label", "replicas test", "--json", user=ADA)
        keys[asker.name] = json.loads(made.stdout)["secret"]
    return keys


def ask_api(server, key: str, question: str) -> dict:
    response = httpx.post(f"{server.v1}/ask", json={"question": question},
                          headers={"Authorization": f"Bearer {key}"}, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()


def answer_records(settings) -> list:
    """Every recorded answer as its full record (entry, user, generation), oldest first."""
    from rag.records.answers import load_answer
    from rag.records.book import open_book

    book = open_book(settings)
    try:
        return [load_answer(book, item.answer_id) for item in recorded_answers(settings)]
    finally:
        book.db.dispose()


def health_generation(server) -> int | None:
    return httpx.get(f"{server.v1}/health", timeout=30).json()["index_generation"]


def test_two_api_replicas_and_an_app_serve_one_generation_into_one_verified_chain(browser, replica_settings,
                                                                                 tmp_path):
    from rag.store import committed_generation

    settings = replica_settings
    keys = set_up_library(settings)
    generation = committed_generation(settings)

    servers = [start_server(settings, tmp_path / f"serve-{n}.log", timeout=300) for n in ("a", "b")]
    app = None
    try:
        app, url = serve(settings, tmp_path / "streamlit.log")
        assert [health_generation(s) for s in servers] == [generation, generation]
        page = new_page(browser)
        page.set_default_timeout(180_000)  # the app's first answer waits behind six API answers on a shared machine
        log_in(page, url, ADA)

        # every replica answers at the same moment: the chain's head is taken under a row lock in PostgreSQL
        jobs = [(server, keys[asker.name], QUESTIONS[i % len(QUESTIONS)])
                for server, asker in zip(servers, (ANN, BOB)) for i in range(ASKS_PER_SERVER)]
        with ThreadPoolExecutor(len(jobs)) as pool:
            pending = [pool.submit(ask_api, *job) for job in jobs]
            try:
                # one question: a second typed while the first run is still finishing can drop the first turn from
                # the conversation on a loaded machine (it stays recorded); what is tested here is the recording
                ask(page, REG_B_QUESTION)
            except Exception:
                save_screenshot(page, tmp_path, "replicas-app-failed.png", full_page=True)  # what the app showed
                raise
            api_answers = [p.result() for p in pending]
        sidebar = page.get_by_test_id("stSidebar").inner_text()
        save_screenshot(page, tmp_path, "replicas-app.png")
    finally:
        if app is not None:
            stop(app)
        for server in servers:
            stop_server(server)

    # the same generation everywhere: the health of both APIs (above), each answer, the app's own sidebar
    assert f"index generation {generation}" in sidebar, sidebar
    assert {a["index_generation"] for a in api_answers} == {generation}
    for answer in api_answers:
        if answer["question"] == REG_B_QUESTION:
            assert any(c["reference"] == ADVERSE_ACTION for c in answer["citations"]), answer["citations"]

    # one chain holds the answers of all three processes, each under the user who asked there
    records = answer_records(settings)
    by_process = {}
    for r in records:
        by_process[(r.entry, r.user)] = by_process.get((r.entry, r.user), 0) + 1
    assert by_process == {("api", ANN.name): ASKS_PER_SERVER, ("api", BOB.name): ASKS_PER_SERVER,
                          ("app", ADA.name): 1}
    assert {r.generation for r in records} == {generation}
    assert {a["answer_id"] for a in api_answers} <= {r.answer_id for r in records}
    seqs = sorted(r.seq for r in records)
    assert len(set(seqs)) == len(seqs)  # no two answers took the same place in the chain

    if settings.index_backend == "milvus":
        assert_served_from_milvus_and_postgres(settings, clauses=len(_clause_keys(settings)))

    verified = json.loads(regcite(settings, "audit", "verify", "--json", user=ADA).stdout)
    assert verified["holds"] is True and verified["breaks"] == [], verified
    assert verified["records"] == SET_UP_RECORDS + len(records)  # nothing else was appended, nothing lost
    assert verified["head_seq"] == verified["records"] and max(seqs) <= verified["head_seq"]
    assert verified["unsigned_tail"] == 0  # every process signed its heads into the one checkpoints file
    assert verified["checkpoints"] == verified["records"]


def _clause_keys(settings) -> list[int]:
    """The clause keys of the committed generation, read from the PostgreSQL catalog."""
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.catalog_url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT position_key FROM clauses"))]
    finally:
        engine.dispose()


def assert_served_from_milvus_and_postgres(settings, clauses: int) -> None:
    """What the Milvus variant's replicas shared lives in the two servers, not in their common data folder: the
    catalog's tables in PostgreSQL, every clause of the generation in a Milvus collection, and no SQLite catalog or
    FAISS file in the data folder (which holds only what the app and the checkpoints need)."""
    from pymilvus import MilvusClient

    assert clauses > 0
    assert not (settings.index_dir / "catalog.sqlite").exists(), sorted(settings.index_dir.iterdir())
    assert not list(settings.data_dir.rglob("*.faiss")), list(settings.data_dir.rglob("*.faiss"))
    client = MilvusClient(uri=settings.milvus_uri)
    try:
        names = [n for n in client.list_collections() if n.startswith(settings.milvus_collection)]
        assert names, f"no collection {settings.milvus_collection}* on {settings.milvus_uri}: {client.list_collections()}"
        held = sum(int(client.get_collection_stats(n)["row_count"]) for n in names)
        assert held >= clauses, (names, held, clauses)
    finally:
        client.close()
