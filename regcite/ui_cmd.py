"""`regcite ui [--host H] [--port N]`: serve the Streamlit app with these settings and print its URL."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path


def add_arguments(name: str, parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8501, help="port (default: 8501)")


def app_path() -> Path:
    # find_spec locates the ui package without importing it (and so without importing streamlit here).
    spec = importlib.util.find_spec("ui")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the ui package is not installed beside regcite")
    return Path(list(spec.submodule_search_locations)[0]) / "app.py"


def settings_env(settings) -> dict[str, str]:
    """Every setting as a REGCITE_* variable, so the app builds the very settings this command resolved."""
    env = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        env[f"REGCITE_{f.name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def command(settings, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    argv = [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.headless", "true", "--server.address", host, "--server.port", str(port),
        "--server.maxUploadSize", str(settings.upload_max_mb), "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--server.fileWatcherType", "none",  # a production server; the app is not edited while it runs
    ]
    root = str(app_path().parents[1])
    env = {**os.environ, **settings_env(settings)}
    env.pop("REGCITE_CONFIG", None)  # already folded into the variables above
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return argv, env


def run(name: str, args, settings) -> int:
    argv, env = command(settings, args.host, args.port)
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1", "::") else args.host
    print(f"regcite: serving the app at http://{shown}:{args.port} (index: {settings.index_dir}); Ctrl-C stops it",
          flush=True)
    proc = subprocess.Popen(argv, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        return 130
