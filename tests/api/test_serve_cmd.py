"""`regcite serve`'s arguments and its loopback rule, and a command line that loads no web framework for --help."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from regcite.serve_cmd import DEFAULT_PORT, add_arguments, is_loopback


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("example.org", False), ("localhost.evil", False),
])
def test_only_loopback_addresses_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_arguments_default_to_loopback():
    parser = argparse.ArgumentParser()
    add_arguments("serve", parser)
    assert vars(parser.parse_args([])) == {"host": "127.0.0.1", "port": DEFAULT_PORT}


def test_the_command_line_imports_no_web_framework_until_serve_runs():
    code = ("import sys, regcite.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'api.app') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
