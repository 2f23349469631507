"""API fixtures: the sample corpus indexed by the real pipeline once, and `regcite serve` started as a subprocess."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rag.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
REG_B_QUESTION = ("How long does a creditor have to notify an applicant after taking adverse action on an existing "
                  "account?")
ADVERSE_ACTION = "12 CFR 1002.9(a)(1)(iii)"
ADVERSE_ACTION_PAGE = 2  # of the 3-page sample excerpt of Reg B in corpus/regulations


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory) -> Path:
    """The sample corpus ingested by the real pipeline (packaged embedder, real FAISS), once for the session; tests
    only read it (each server records into a database of its own)."""
    from ingest.pipeline import ingest_paths

    base = tmp_path_factory.mktemp("api-index")
    settings = load_settings(env={}, overrides={"data_dir": base / "data",
                                                "audit_key_file": str(base / "keys" / "audit.key")})
    report = ingest_paths([ROOT / "corpus"], settings, progress=False)
    assert report.added >= 4 and not report.skipped, report
    return settings.data_dir


def server_settings(data_dir: Path, tmp_path: Path, **changes):
    """Settings over data_dir with records, checkpoints and the audit key of this test's own."""
    return load_settings(env={}, overrides={
        "data_dir": data_dir, "database_url": f"sqlite:///{tmp_path / 'records.db'}",
        "audit_checkpoints": str(tmp_path / "checkpoints.jsonl"), "audit_key_file": str(tmp_path / "audit.key"),
        **changes})


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen
    log: Path
    settings: object

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def serve_command(settings, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    from regcite.ui_cmd import settings_env

    env = {**os.environ, **settings_env(settings), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("REGCITE_CONFIG", None)
    return [sys.executable, "-m", "regcite.cli", "serve", "--host", host, "--port", str(port)], env


def start_server(settings, log_path: Path, host: str = "127.0.0.1", timeout: float = 90) -> Server:
    """`regcite serve` on a free loopback port, returned once /v1/health answers."""
    port = free_port()
    argv, env = serve_command(settings, host, port)
    log = open(log_path, "w")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    server = Server(f"http://127.0.0.1:{port}", proc, log_path, settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"regcite serve exited with {proc.returncode}: {server.output()[-3000:]}")
        try:
            if httpx.get(f"{server.v1}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"regcite serve not healthy in {timeout:.0f} s: {server.output()[-3000:]}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture
def served(sample_data_dir, tmp_path):
    """`regcite serve` over the sample index, with no users: requests act as the local user."""
    server = start_server(server_settings(sample_data_dir, tmp_path), tmp_path / "serve.log")
    yield server
    stop_server(server)


def recorded_answers(settings) -> list:
    """Every answer in the server's record book (every state), oldest first."""
    from rag.records.book import open_book
    from rag.records.queue import QueueFilter, list_answers

    book = open_book(settings)
    try:
        return list_answers(book, QueueFilter(states=()))
    finally:
        book.db.dispose()
