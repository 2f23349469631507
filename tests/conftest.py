"""Shared fixtures: the ../shared material (skipped with a reason where absent) and isolated settings."""
from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from rag.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(relative: str) -> Path:
    """A path under ../shared, or skip the calling test naming what is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the shared test material beside the project root); absent here")
    return path


@pytest.fixture(autouse=True, scope="session")
def private_config_home(tmp_path_factory):
    """The default audit key lives under $XDG_CONFIG_HOME: point it here, so no test (nor a server one starts) signs
    with or creates the user's own key."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))


@pytest.fixture(autouse=True, scope="session")
def index_backend_under_test():
    """REGCITE_TEST_INDEX_BACKEND=milvus runs whatever tests are selected with index_backend defaulting to Milvus
    (Lite, in each test's own data_dir): the answer, versions and access tests on the second engine without a
    copy of each (scripts/test.sh runs them so). Tests build settings with env={}, so the default itself moves."""
    backend = os.environ.get("REGCITE_TEST_INDEX_BACKEND", "")
    if not backend:
        yield
        return
    from dataclasses import fields

    names = [f.name for f in fields(Settings) if f.init]
    defaults = Settings.__init__.__defaults__
    kept = defaults
    position = len(defaults) - len(names) + names.index("index_backend")
    Settings.__init__.__defaults__ = defaults[:position] + (backend,) + defaults[position + 1:]
    try:
        assert Settings().index_backend == backend
        yield
    finally:
        Settings.__init__.__defaults__ = kept


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private data directory and no environment or config file leaking in."""
    return load_settings(env={}, overrides={"data_dir": tmp_path / "data",
                                            "audit_key_file": str(tmp_path / "keys" / "audit.key")})


class NetworkBlocked(ConnectionRefusedError):
    """A test tried to reach a host outside loopback (a ConnectionError, so clients fail as if offline)."""


def _is_loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:  # a host name: only localhost names count
        return str(host).lower().endswith(".localhost")


@pytest.fixture(autouse=True)
def no_network(request, monkeypatch):
    """Every test but the e2e ones runs offline: a connection or name lookup outside loopback fails at once,
    so a hidden download or a leaked request is a failing test, not a slow one (cf. Haystack's request_blocker)."""
    if request.node.get_closest_marker("e2e"):
        yield
        return
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded(method):
        def call(sock, address, *args):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                raise NetworkBlocked(f"test tried to connect to {address[0]}:{address[1]}; tests stay on loopback")
            return method(sock, address, *args)
        return call

    def lookup(host, *args, **kwargs):
        if not _is_loopback(host):
            raise NetworkBlocked(f"test tried to resolve {host!r}; tests stay on loopback")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield
