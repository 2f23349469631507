"""One `milvus-lite server` process on a free loopback port: what replicas (and a writer killed mid-commit) talk to.

`with milvus_lite_server(folder) as server:` gives its uri (http://127.0.0.1:PORT); the process stops on exit.
Skips, naming what is missing, where the milvus extra is not installed.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest


@dataclass(frozen=True)
class MilvusServer:
    uri: str  # http://127.0.0.1:PORT
    data_dir: Path  # the Milvus Lite folder it serves (a local open of it is refused while it runs)
    proc: subprocess.Popen
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"milvus-lite server not listening on {port} in {timeout:.0f} s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def milvus_lite_server(folder: Path) -> Iterator[MilvusServer]:
    binary = Path(sys.executable).parent / "milvus-lite"
    if not binary.exists():
        pytest.skip(f"{binary} is missing: install the milvus extra (pip install '.[milvus]')")
    folder.mkdir(parents=True, exist_ok=True)
    port, log, data = free_port(), folder / "milvus-server.log", folder / "milvus.db"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(binary), "server", "--data-dir", str(data), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield MilvusServer(f"http://127.0.0.1:{port}", data, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
