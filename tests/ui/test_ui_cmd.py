"""`regcite ui`: the streamlit command line it builds, and the settings it hands to the app."""
from __future__ import annotations

import argparse
import sys

from rag.config import load_settings
from regcite.ui_cmd import add_arguments, command, settings_env


def test_command_runs_the_app_headless_with_limits(tmp_path):
    s = load_settings(env={}, overrides={"data_dir": tmp_path, "upload_max_mb": 7})
    argv, env = command(s, "0.0.0.0", 9999)
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"] and argv[4].endswith("ui/app.py")
    flags = dict(zip(argv[5::2], argv[6::2]))
    assert flags["--server.headless"] == "true" and flags["--server.port"] == "9999"
    assert flags["--server.address"] == "0.0.0.0" and flags["--server.maxUploadSize"] == "7"
    assert env["REGCITE_DATA_DIR"] == str(tmp_path)


def test_settings_survive_the_trip_through_the_environment(tmp_path):
    s = load_settings(env={}, overrides={
        "data_dir": tmp_path, "llm_backend": "openai", "llm_base_url": "http://127.0.0.1:8000/v1",
        "llm_model": "Qwen/Qwen2.5-7B-Instruct", "faiss_gpu": False, "top_k": 5,
    })
    assert load_settings(env=settings_env(s)) == s


def test_arguments_default_to_loopback_port_8501():
    parser = argparse.ArgumentParser()
    add_arguments("ui", parser)
    assert vars(parser.parse_args([])) == {"host": "127.0.0.1", "port": 8501}
    assert vars(parser.parse_args(["--host", "0.0.0.0", "--port", "8600"])) == {"host": "0.0.0.0", "port": 8600}
