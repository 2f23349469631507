"""Embedding backends: every backend against torch on real text, the export cache, queries without torch, the
vector-space rule that refuses an index of other vectors, and the GPU batch choice."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rag.config import load_settings
from rag.embed import (EMBED_BACKENDS, INTERCHANGEABLE, MEASURED_MIN_COSINE, gpu_batch_size, load_embedder,
                       split_space, vector_space)
from rag.errors import ConfigError, ModelMismatch, ModelUnavailable
from tests.conftest import ROOT

TEXTS = [
    "A creditor shall notify an applicant of action taken within 30 days after receiving a completed application.",
    "(iii) 30 days after taking adverse action on an existing account; or",
    "The controller shall erase personal data without undue delay where the data subject withdraws consent.",
    "金融机构应当按照规定建立客户尽职调查制度。",
    "Comment 9(a)(1)-1. Timing of notice—when an application is complete. " * 12,  # past the 256-piece window
    "credit",
    "",
]


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


BACKENDS = [pytest.param(b, marks=pytest.mark.skipif(b == "openvino" and not _installed("openvino"),
                                                    reason="openvino is not installed (pip install openvino)"))
            for b in EMBED_BACKENDS if b != "torch"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("backends") / "data"


def _embedder(data_dir: Path, backend: str):
    return load_embedder(load_settings(env={}, overrides={"data_dir": data_dir, "device": "cpu",
                                                          "embed_backend": backend}))


@pytest.fixture(scope="module")
def torch_vectors(data_dir) -> np.ndarray:
    return _embedder(data_dir, "torch").embed_documents(TEXTS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_matches_torch_on_real_text_within_its_measured_cosine(data_dir, torch_vectors, backend):
    embedder = _embedder(data_dir, backend)
    vectors = embedder.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * torch_vectors).sum(axis=1)
    floor = 0.9999 if MEASURED_MIN_COSINE[backend] >= INTERCHANGEABLE else 0.95
    assert cosines.min() >= floor, dict(zip(TEXTS, cosines))
    alone = embedder.embed_query(TEXTS[0])
    if floor > 0.99:  # query order and length sorting inside do not change a vector
        np.testing.assert_allclose(alone, vectors[0], atol=1e-5)
    else:  # int8 quantises activations per batch, so a text's vector depends a little on its batch
        assert float(alone @ vectors[0]) > 0.98
    assert embedder.device == "cpu" and embedder.dim == 384


@pytest.mark.parametrize("backend", ["openvino", "onnx"])
def test_many_batches_in_flight_and_repeated_texts_come_back_in_the_callers_order(data_dir, torch_vectors, backend):
    # batch_size 2 puts several batches in flight at once on OpenVINO's streams; repeats are embedded once
    embedder = _embedder(data_dir, backend)
    embedder._batch_size = 2
    texts = [*TEXTS, TEXTS[0], *reversed(TEXTS)]
    vectors = embedder.embed_documents(texts)
    expected = np.vstack([torch_vectors, torch_vectors[:1], torch_vectors[::-1]])
    assert ((vectors * expected).sum(axis=1) > 0.9999).all()
    np.testing.assert_array_equal(vectors[len(TEXTS)], vectors[0])


def test_the_export_is_cached_in_the_data_dir_and_reused(data_dir, tmp_path, monkeypatch):
    import rag.onnx_embed as onnx_embed

    _embedder(data_dir, "onnx").embed_query("warm")
    folders = list((data_dir / "onnx").glob("all-MiniLM-L6-v2-*"))
    assert len(folders) == 1 and (folders[0] / "model.onnx").exists() and (folders[0] / "tokenizer.json").exists()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_embed, "_export_fp32", no_export)
    _embedder(data_dir, "onnx").embed_query("again")  # the same data dir: the files are there
    other = tmp_path / "other"
    _embedder(other, "onnx").embed_query("elsewhere")  # another data dir in this process: copied, not re-exported
    assert list((other / "onnx").glob("all-MiniLM-L6-v2-*/model.onnx"))


def test_a_query_embeds_without_importing_torch(data_dir):
    _embedder(data_dir, "onnx").embed_query("warm")  # the export (torch's one use) is done
    probe = textwrap.dedent(f"""
        import json, sys
        from rag.config import load_settings
        from rag.embed import load_embedder
        e = load_embedder(load_settings(env={{}}, overrides={{"data_dir": {str(data_dir)!r}, "embed_backend": "onnx"}}))
        v = e.embed_query("How long must a creditor retain an application?")
        heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
        print(json.dumps({{"dim": v.shape[0], "heavy": heavy}}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"dim": 384, "heavy": []}


def test_importing_the_embedder_loads_no_runtime():
    probe = ("import sys, rag.embed, rag.onnx_embed\n"
             "print(','.join(m for m in ('torch', 'onnxruntime', 'openvino', 'tokenizers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr


@pytest.mark.parametrize("backend, space", [("torch", "all-MiniLM-L6-v2"), ("onnx", "all-MiniLM-L6-v2"),
                                            ("openvino", "all-MiniLM-L6-v2"),
                                            ("onnx-int8", "all-MiniLM-L6-v2 [onnx-int8]")])
def test_backends_under_the_measured_cosine_name_a_vector_space_of_their_own(backend, space):
    assert vector_space("all-MiniLM-L6-v2", backend) == space
    assert split_space(space) == ("all-MiniLM-L6-v2", None if space == "all-MiniLM-L6-v2" else backend)
    assert split_space("BAAI/bge-m3 [not-a-backend]") == ("BAAI/bge-m3 [not-a-backend]", None)


def _index_with(settings, embedder):
    from rag.store import open_index
    from rag.types import CharSpan, Clause, DocumentVersion, Kind, PageSpan
    from rag.writer import open_writer

    version = DocumentVersion(version_id="v" * 16, doc_id="D", title="D", kind=Kind.REGULATION, jurisdiction="US",
                              language="en", source_path="/tmp/d.txt", sha256="a" * 64, page_starts=(0,))
    clause = Clause(clause_id="v:0", version_id=version.version_id, ordinal=0, path=("§ 1",), reference="D 1",
                    headings=(), text=TEXTS[0], char_span=CharSpan(0, 10), page_span=PageSpan(1, 1))
    with open_writer(settings, embedder.name, embedder.dim, embedder.backend) as w:
        w.add_version(version, TEXTS[0], [clause], embedder.embed_documents([TEXTS[0]]))
        w.commit()
    return open_index(settings)


def test_an_index_of_fp32_vectors_serves_every_fp32_backend_and_refuses_int8(data_dir, tmp_path):
    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data", "embed_backend": "torch"})
    index = _index_with(settings, _embedder(data_dir, "torch"))
    assert index.model_name == "all-MiniLM-L6-v2" and index.backends == ("torch",)
    index.check_model(_embedder(data_dir, "onnx").name)  # interchangeable: no re-ingest after changing backend
    with pytest.raises(ModelMismatch) as refused:
        index.check_model(_embedder(data_dir, "onnx-int8").name)
    message = str(refused.value)
    assert "not interchangeable" in message and "embed_backend" in message and "onnx-int8" in message
    assert "REGCITE_EMBED_BACKEND" in message


def test_an_index_of_int8_vectors_refuses_fp32_queries_and_fp32_writers(data_dir, tmp_path):
    from rag.writer import open_writer

    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data", "embed_backend": "onnx-int8"})
    int8 = _embedder(data_dir, "onnx-int8")
    index = _index_with(settings, int8)
    assert index.model_name == "all-MiniLM-L6-v2 [onnx-int8]" and index.backends == ("onnx-int8",)
    index.check_model(int8.name)
    with pytest.raises(ModelMismatch, match="Set embed_backend to onnx-int8"):
        index.check_model(_embedder(data_dir, "onnx").name)
    with pytest.raises(ModelMismatch, match="not interchangeable"):
        with open_writer(settings, "all-MiniLM-L6-v2", 384, "torch"):
            pass


def test_a_second_fp32_backend_writing_into_an_index_is_recorded(data_dir, tmp_path):
    from rag.store import open_index
    from rag.types import CharSpan, Clause, DocumentVersion, Kind, PageSpan
    from rag.writer import open_writer

    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data", "embed_backend": "torch"})
    _index_with(settings, _embedder(data_dir, "torch"))
    onnx = _embedder(data_dir, "onnx")
    version = DocumentVersion(version_id="w" * 16, doc_id="E", title="E", kind=Kind.REGULATION, jurisdiction="US",
                              language="en", source_path="/tmp/e.txt", sha256="b" * 64, page_starts=(0,))
    clause = Clause(clause_id="w:0", version_id=version.version_id, ordinal=0, path=("§ 1",), reference="E 1",
                    headings=(), text=TEXTS[2], char_span=CharSpan(0, 10), page_span=PageSpan(1, 1))
    with open_writer(settings, onnx.name, onnx.dim, onnx.backend) as w:
        w.add_version(version, TEXTS[2], [clause], onnx.embed_documents([TEXTS[2]]))
        w.commit()
    assert open_index(settings).backends == ("onnx", "torch")


def test_an_unknown_backend_is_a_config_error_naming_the_choices(settings):
    with pytest.raises(ConfigError, match="torch, onnx, onnx-int8, openvino"):
        load_embedder(settings.replace(embed_backend="tensorrt"))


def test_a_model_the_onnx_backends_cannot_run_embeds_with_torch_and_says_so(settings, tmp_path, caplog):
    """A tuned model's query/document Router is regcite's own output: the default backend must not refuse it."""
    from rag.onnx_embed import spec_of

    folder = tmp_path / "routed"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "",
                                                      "type": "sentence_transformers.base.modules.Router"}]))
    with pytest.raises(ModelUnavailable, match='Router: set embed_backend = "torch"'):
        spec_of(folder)
    with caplog.at_level("WARNING", logger="rag.embed"):
        embedder = load_embedder(settings.replace(embed_model=str(folder), embed_backend="onnx"))
    assert embedder.backend == "torch" and str(folder) in caplog.text


@pytest.mark.parametrize("pooling, expected", [
    ("mean", [[2.0, 3.0]]),  # the padded token (mask 0) is left out
    ("cls", [[1.0, 2.0]]),
    ("max", [[3.0, 4.0]]),
])
def test_pooling_matches_sentence_transformers_rules_then_normalises(pooling, expected):
    from rag.onnx_embed import _pool

    hidden = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    want = np.array(expected) / np.linalg.norm(expected)
    np.testing.assert_allclose(_pool(hidden, mask, pooling), want, rtol=1e-6)


@pytest.mark.parametrize("gib, configured, expected", [
    (2, 64, 128), (4, 64, 128), (8, 64, 256), (16, 64, 512), (24, 64, 512), (40, 64, 1024), (141, 64, 1024),
    (8, 2048, 2048),
])
def test_the_gpu_batch_grows_with_the_card_and_never_shrinks_below_settings(gib, configured, expected):
    assert gpu_batch_size(gib * 2**30, configured) == expected


def test_on_cuda_the_torch_embedder_runs_fp16_with_the_card_batch(monkeypatch, settings):
    """No GPU here: the path is exercised with a stand-in model reporting a CUDA device."""
    import torch

    import rag.embed as embed

    class FakeModel:
        device = "cuda:0"
        halved = False

        def half(self):
            self.halved = True
            return self

        def get_embedding_dimension(self):
            return 384

    fake = FakeModel()
    monkeypatch.setattr(embed, "load_sentence_transformer", lambda *a, **k: fake)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device: type("Props", (), {"total_memory": 16 * 2**30})())
    embedder = load_embedder(settings.replace(embed_backend="torch", device="cuda"))
    assert embedder._load() is fake and fake.halved and embedder._batch_size == 512
