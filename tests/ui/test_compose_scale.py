"""docker-compose.yml's "scale" profile: Milvus standalone (etcd, MinIO), PostgreSQL, two app and two API replicas on
the one vLLM, an ingest job, all validated by Docker Compose v2 (`docker compose config`, no engine needed); and no
credential written into the file."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.ui.test_compose import ROOT, compose_config

COMPOSE = ROOT / "docker-compose.yml"
PROFILES = ("jobs", "scale", "scale-jobs")
# what a team puts in .env; sentinels here, so the test can see where each one lands
SECRETS = {"REGCITE_POSTGRES_PASSWORD": "pg-sentinel-4711", "REGCITE_MINIO_ACCESS_KEY": "minio-user-sentinel",
           "REGCITE_MINIO_SECRET_KEY": "minio-secret-sentinel-0815"}
REPLICAS = ("app-a", "app-b", "api-a", "api-b")
REGCITE_SCALE = (*REPLICAS, "ingest-scale", "admin")
INFRA = ("postgres", "milvus", "milvus-etcd", "milvus-minio")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|TOKEN|API_KEY")


def resolved(env: dict[str, str]) -> dict:
    done = compose_config(COMPOSE, "--format", "json", profiles=PROFILES, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def scale() -> dict:
    return resolved(SECRETS)


def test_the_scale_profile_adds_its_services_and_leaves_the_default_ones_alone(scale):
    assert set(scale["services"]) == {"app", "ingest", "vllm", *REGCITE_SCALE, *INFRA}
    default = compose_config(COMPOSE, "--format", "json")
    assert default.returncode == 0, default.stderr
    assert set(json.loads(default.stdout)["services"]) == {"app", "ingest", "vllm"}
    for name in ("app", "ingest", "vllm"):  # the same services whichever profiles are on
        assert scale["services"][name] == json.loads(default.stdout)["services"][name]
    for name in (*REGCITE_SCALE, *INFRA):
        assert scale["services"][name]["profiles"] in (["scale"], ["scale-jobs"]), name
    assert scale["services"]["ingest-scale"]["profiles"] == ["scale-jobs"]  # one-shot jobs, never started by `up`
    assert scale["services"]["admin"]["profiles"] == ["scale-jobs"]


def test_replicas_run_the_app_and_the_api_and_share_milvus_postgres_the_model_and_one_audit_key(scale):
    services = scale["services"]
    assert [services[n]["command"][:2] for n in REPLICAS] == [["regcite", "ui"]] * 2 + [["regcite", "serve"]] * 2
    assert all("0.0.0.0" in services[n]["command"] for n in REPLICAS)
    assert services["ingest-scale"]["command"][:2] == ["regcite", "ingest"]
    assert services["admin"]["entrypoint"] == ["regcite"]
    published = [services[n]["ports"][0]["published"] for n in REPLICAS]
    assert len(set(published)) == 4  # each replica on a host port of its own
    for name in REGCITE_SCALE:
        service = services[name]
        env = service["environment"]
        assert env["REGCITE_INDEX_BACKEND"] == "milvus"
        assert env["REGCITE_MILVUS_URI"] == "http://milvus:19530"
        assert env["REGCITE_CATALOG_URL"] == "postgresql+psycopg://regcite@postgres:5432/regcite_catalog"
        assert env["REGCITE_DATABASE_URL"] == "postgresql+psycopg://regcite@postgres:5432/regcite_records"
        assert env["REGCITE_AUDIT_KEY_FILE"] == "/keys/audit.key"
        assert env["REGCITE_LLM_BASE_URL"] == "http://vllm:8000/v1"
        mounts = {(v["source"], v["target"]) for v in service["volumes"]}
        assert {("regcite-scale-keys", "/keys"), ("regcite-scale-data", "/data")} <= mounts, name
        for needed in ("postgres", "milvus"):
            assert service["depends_on"][needed]["condition"] == "service_healthy", (name, needed)
    for name in REPLICAS:
        assert services[name]["depends_on"]["vllm"]["condition"] == "service_healthy"
    # the catalog's database is made when PostgreSQL initialises, beside the records' POSTGRES_DB
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:16" and postgres["environment"]["POSTGRES_DB"] == "regcite_records"
    init = postgres["configs"][0]
    assert init["target"].startswith("/docker-entrypoint-initdb.d/")
    assert "CREATE DATABASE regcite_catalog" in scale["configs"][init["source"]]["content"]


def test_the_scale_settings_are_valid_regcite_settings(scale):
    from rag.config import load_settings

    s = load_settings(env=scale["services"]["api-a"]["environment"])
    assert (s.index_backend, s.milvus_target, s.catalog_url.split("@")[1]) == (
        "milvus", "http://milvus:19530", "postgres:5432/regcite_catalog")
    assert s.records_url.startswith("postgresql+psycopg://regcite@postgres")


def test_milvus_standalone_has_etcd_and_minio_and_every_engine_a_healthcheck(scale):
    services = scale["services"]
    milvus = services["milvus"]
    assert milvus["image"].startswith("milvusdb/milvus:v2.") and milvus["command"] == ["milvus", "run", "standalone"]
    assert milvus["environment"]["ETCD_ENDPOINTS"] == "milvus-etcd:2379"
    assert milvus["environment"]["MINIO_ADDRESS"] == "milvus-minio:9000"
    assert {n: c["condition"] for n, c in milvus["depends_on"].items()} == {
        "milvus-etcd": "service_healthy", "milvus-minio": "service_healthy"}
    for name in (*INFRA, "api-a", "api-b"):
        assert services[name]["healthcheck"]["test"], name
    assert "9091/healthz" in " ".join(milvus["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/v1/health" in " ".join(services["api-a"]["healthcheck"]["test"])


def test_no_credential_is_written_into_the_file(scale):
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    blocks = [raw[k] for k in raw if k.startswith("x-") and "environment" not in raw[k]]
    blocks += [s.get("environment") or {} for s in raw["services"].values()]
    named = {k: v for block in blocks if isinstance(block, dict) for k, v in block.items() if SECRET_NAME.search(k)}
    assert {"PGPASSWORD", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "MINIO_SECRET_ACCESS_KEY"} <= set(named)
    for name, value in named.items():  # every credential is a variable from the environment or .env
        assert re.fullmatch(r"\$\{[A-Z_]+:-(EMPTY)?\}", str(value)), (name, value)
    text = COMPOSE.read_text(encoding="utf-8")
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text)  # no user:password@ in any URL
    assert "minioadmin" not in text

    # the values set in the environment land in the credential variables and nowhere else
    flat = json.dumps(scale["services"])
    assert flat.count(SECRETS["REGCITE_POSTGRES_PASSWORD"]) == len(REGCITE_SCALE) + 1  # PGPASSWORD x6, postgres x1
    for name in REGCITE_SCALE:
        assert scale["services"][name]["environment"]["PGPASSWORD"] == SECRETS["REGCITE_POSTGRES_PASSWORD"]
        assert not any(SECRETS["REGCITE_POSTGRES_PASSWORD"] in v for k, v in
                       scale["services"][name]["environment"].items() if k != "PGPASSWORD")
    assert scale["services"]["milvus"]["environment"]["MINIO_SECRET_ACCESS_KEY"] == SECRETS["REGCITE_MINIO_SECRET_KEY"]
    assert scale["services"]["milvus-minio"]["environment"]["MINIO_ROOT_PASSWORD"] == SECRETS["REGCITE_MINIO_SECRET_KEY"]
    # and without a .env nothing falls back to a known default password
    bare = resolved({})
    assert bare["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == ""
    assert bare["services"]["milvus-minio"]["environment"]["MINIO_ROOT_PASSWORD"] == ""
