"""The ONNX side of the embedder: a sentence-transformers folder exported once, then run with no torch import.

`export(source, cache, int8)` turns a Transformer + Pooling (+ Normalize) folder into an ONNX graph of the
transformer (torch and transformers needed once, here only), optionally dynamically quantised to int8, in a
folder of the cache named by the source's fingerprint. `OnnxEncoder` runs that graph with onnxruntime or
OpenVINO, tokenises with the `tokenizers` library and pools and L2-normalises in numpy, as sentence-transformers
does for the same folder (the tests hold the two to a cosine of 0.99999 on real text).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelUnavailable

log = logging.getLogger(__name__)

GRAPH = "model.onnx"
GRAPH_INT8 = "model-int8.onnx"
TOKENIZER = "tokenizer.json"
SPEC = "regcite-onnx.json"  # what the runtime needs besides the graph: window, pooling, the source's fingerprint
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
POOLINGS = ("mean", "cls", "max")

# Exports done by this process, by fingerprint: a second data dir (every test has one) copies the files instead of
# paying torch's import and the export again.
_EXPORTED: dict[str, Path] = {}
_EXPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class OnnxSpec:
    """How to run an exported folder: the tokeniser window and the pooling sentence-transformers applies."""

    max_length: int
    pooling: str  # one of POOLINGS
    fingerprint: str
    inputs: tuple[str, ...] = INPUTS


def _read_json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"cannot read {path}: {e}") from None


def spec_of(source: Path) -> OnnxSpec:
    """The window and pooling of a plain sentence-transformers folder; others are refused with the reason."""
    modules = _read_json(source / "modules.json") if (source / "modules.json").exists() else []
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    pooling = "mean"
    if modules:
        if kinds[0] != "Transformer" or any(k not in ("Pooling", "Normalize") for k in kinds[1:]):
            raise ModelUnavailable(
                f"the ONNX backends run a Transformer + Pooling (+ Normalize) model; {source} has "
                f"{' + '.join(kinds)}: set embed_backend = \"torch\" for it")
        for module in modules:
            if module.get("type", "").endswith("Pooling"):
                config = _read_json(source / module.get("path", "") / "config.json")
                chosen = [mode for mode in POOLINGS if config.get(f"pooling_mode_{mode}_tokens")
                          or config.get(f"pooling_mode_{mode}_token")]
                others = [k for k, v in config.items() if k.startswith("pooling_mode_") and v
                          and not any(k.startswith(f"pooling_mode_{m}_token") for m in POOLINGS)]
                if len(chosen) != 1 or others:
                    raise ModelUnavailable(f"the ONNX backends pool by one of {', '.join(POOLINGS)}; {source} "
                                           "pools otherwise: set embed_backend = \"torch\" for it")
                pooling = chosen[0]
    st_config = source / "sentence_bert_config.json"
    max_length = _read_json(st_config).get("max_seq_length") if st_config.exists() else None
    if not max_length:
        max_length = int(_read_json(source / "config.json").get("max_position_embeddings", 512))
    if not (source / TOKENIZER).exists():
        raise ModelUnavailable(f"{source} has no {TOKENIZER} (a fast tokenizer), which the ONNX backends need: "
                               "set embed_backend = \"torch\" for it")
    return OnnxSpec(max_length=int(max_length), pooling=pooling, fingerprint=fingerprint(source))


def fingerprint(source: Path) -> str:
    """Names the source's weights and configs by path, size and modification time: cheap at every start, and a
    reinstalled or retrained model gets a fresh export."""
    h = hashlib.sha256(str(source.resolve()).encode())
    for path in sorted(source.rglob("*")):
        if path.is_file() and (path.suffix in (".json", ".txt", ".safetensors", ".bin", ".model")):
            stat = path.stat()
            h.update(f"{path.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def export_dir(cache: Path, label: str, spec: OnnxSpec) -> Path:
    return cache / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', label).strip('-') or 'model'}-{spec.fingerprint}"


def export(source: Path, cache: Path, int8: bool, label: str = "") -> tuple[Path, OnnxSpec]:
    """The exported graph for source (fp32, or int8 next to it), made once per fingerprint under a file lock, in a
    folder of cache named by label (the model's name) and the fingerprint."""
    spec = spec_of(source)
    folder = export_dir(cache, label or source.name, spec)
    graph = folder / (GRAPH_INT8 if int8 else GRAPH)
    if graph.exists() and (folder / SPEC).exists():
        return graph, spec
    folder.mkdir(parents=True, exist_ok=True)
    with _EXPORT_LOCK, _file_lock(folder / ".lock"):
        if not (folder / GRAPH).exists():
            done = _EXPORTED.get(spec.fingerprint)
            if done is not None and (done / GRAPH).exists():
                _copy_atomic(done / GRAPH, folder / GRAPH)
            else:
                _export_fp32(source, folder / GRAPH, spec)
        if int8 and not graph.exists():
            done = _EXPORTED.get(spec.fingerprint)
            if done is not None and (done / GRAPH_INT8).exists():
                _copy_atomic(done / GRAPH_INT8, graph)
            else:
                _quantize(folder / GRAPH, graph)
        if not (folder / TOKENIZER).exists():
            _copy_atomic(source / TOKENIZER, folder / TOKENIZER)
        _write_atomic(folder / SPEC, json.dumps({"max_length": spec.max_length, "pooling": spec.pooling,
                                                "fingerprint": spec.fingerprint, "source": str(source)}).encode())
        _EXPORTED.setdefault(spec.fingerprint, folder)
    return graph, spec


class _file_lock:
    """fcntl lock on a file: two processes starting on one data dir export once."""

    def __init__(self, path: Path):
        self._path = path

    def __enter__(self):
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _tmp(path: Path) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _tmp(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = _tmp(dst)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _export_fp32(source: Path, graph: Path, spec: OnnxSpec) -> None:
    """torch.onnx's TorchScript exporter over the bare transformer: last_hidden_state out, batch and length dynamic."""
    log.warning("exporting the embedder %s to ONNX once (cached in %s)", source, graph.parent)
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a one-off export needs no "Loading weights" bar
    try:
        base = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    except Exception as e:  # transformers raises OSError or ValueError for a folder it cannot read
        raise ModelUnavailable(f"cannot load {source} for the ONNX export: {e}; set embed_backend = \"torch\"") from e
    takes_types = "token_type_ids" in base.forward.__code__.co_varnames

    class Transformer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base

        def forward(self, input_ids, attention_mask, token_type_ids):
            extra = {"token_type_ids": token_type_ids} if takes_types else {}
            return self.base(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state

    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    tmp = _tmp(graph)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice; dynamo needs onnxscript
        torch.onnx.export(Transformer(), example, str(tmp), input_names=list(INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    os.replace(tmp, graph)


def _quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 quantisation of the matrix products: weights per output channel, activations per batch.

    Per channel matters: per-tensor weights (onnxruntime's default) left some clauses at a cosine of 0.83 to fp32;
    per channel the mean is 0.99 and the minimum about 0.98 (benchmarks/results/ingest.json)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _tmp(int8)
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # it suggests pre-processing on the root logger
    try:
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
    finally:
        root.setLevel(level)
    os.replace(tmp, int8)


class OnnxEncoder:
    """Texts in, L2-normalised float32 out: tokenizers, then onnxruntime or OpenVINO, then numpy pooling."""

    def __init__(self, graph: Path, spec: OnnxSpec, runtime: str, threads: int = 0, compile_cache: Path | None = None):
        from tokenizers import Tokenizer

        self.graph = graph
        self.spec = spec
        self.runtime = runtime
        tokenizer = Tokenizer.from_file(str(graph.parent / TOKENIZER))
        # The file's own settings (all-MiniLM-L6-v2's: 128 tokens, fixed padding) are not what
        # sentence-transformers applies: it truncates at max_seq_length and pads each batch to its longest text.
        tokenizer.enable_truncation(max_length=spec.max_length)
        self._pad_id = (tokenizer.padding or {}).get("pad_id", 0)
        tokenizer.no_padding()  # encode() pads each batch itself, after sorting by length in word pieces
        self._tokenizer = tokenizer
        self._run = _openvino(graph, threads, compile_cache) if runtime == "openvino" else _onnxruntime(graph, threads)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """(n, dim) in the order given. Texts are batched by their length in word pieces, not characters: on the CFR
        clauses that cut padding from 42% to 6% of what the model reads, and raised throughput by a third."""
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        order = np.argsort(lengths, kind="stable")
        batches = []
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            width = max(int(lengths[rows].max()), 1)
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                n = int(lengths[i])
                ids[row, :n], types[row, :n], mask[row, :n] = encodings[i].ids, encodings[i].type_ids, 1
            batches.append((rows, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}))
        batches.reverse()  # longest first: with batches in flight on two streams, the last to finish is a short one
        out: np.ndarray | None = None
        for (rows, feeds), hidden in zip(batches, self._run([feeds for _, feeds in batches])):
            pooled = _pool(hidden, feeds["attention_mask"], self.spec.pooling)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def _pool(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """Pooling as sentence-transformers' Pooling module does it, then L2 normalisation (its Normalize)."""
    hidden = hidden.astype(np.float32, copy=False)
    if pooling == "cls":
        pooled = hidden[:, 0]
    elif pooling == "max":
        pooled = np.where(mask[:, :, None] > 0, hidden, -1e9).max(axis=1)
    else:
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def _onnxruntime(graph: Path, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelUnavailable("embed_backend onnx needs onnxruntime: pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers are noise to a user
    # Idle worker threads sleep instead of spinning: on 2 shared cores spinning cost 40% more wall time per batch
    # (other processes, and ingest's parsing thread, need the cores between operators).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    def run(batches: list[dict[str, np.ndarray]]):
        for feeds in batches:
            yield session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]

    return run


def _openvino(graph: Path, threads: int, compile_cache: Path | None):
    try:
        import openvino as ov
    except ImportError:
        raise ModelUnavailable("embed_backend openvino needs OpenVINO: pip install openvino") from None
    core = ov.Core()
    if compile_cache is not None:  # the compiled blob, reused by the next process: start-up 2 s -> a fraction
        compile_cache.mkdir(parents=True, exist_ok=True)
        core.set_property({"CACHE_DIR": str(compile_cache)})
    # OpenVINO's own precision: bf16 on CPUs with bf16 units (AVX-512 BF16, AMX), f32 elsewhere. bf16 embedded the
    # CFR clauses 1.75x faster than f32 here with a minimum cosine of 0.9999 to torch fp32 (benchmarks/RESULTS.md).
    # THROUGHPUT: one stream per core, each batch on one stream, batches in flight at once. The LATENCY hint splits
    # each batch across both cores and waits on them at every layer: on 2 cores it kept one busy (7,505 CFR clauses
    # in 42 s against 24 s), and one query still runs in a few milliseconds on one stream.
    config = {"PERFORMANCE_HINT": "THROUGHPUT"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = core.compile_model(core.read_model(str(graph)), "CPU", config)
    log.info("OpenVINO runs the embedder in %s", compiled.get_property("INFERENCE_PRECISION_HINT"))
    wanted = {i.get_any_name() for i in compiled.inputs}
    in_flight = max(int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")), 1)
    queue = ov.AsyncInferQueue(compiled, in_flight)
    lock = threading.Lock()  # one queue, one caller at a time (the app embeds from several threads)

    def run(batches: list[dict[str, np.ndarray]]):
        outputs: list[np.ndarray | None] = [None] * len(batches)

        def done(request, at: int) -> None:
            outputs[at] = request.get_output_tensor(0).data.copy()

        with lock:
            queue.set_callback(done)
            for at, feeds in enumerate(batches):
                queue.start_async({k: v for k, v in feeds.items() if k in wanted}, at)
            queue.wait_all()
        if any(o is None for o in outputs):
            raise ModelUnavailable(f"OpenVINO returned no output for {outputs.count(None)} of {len(batches)} batches")
        return outputs

    return run
