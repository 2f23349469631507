"""The embedder: the packaged model loads offline, vectors are normalised and meaningful, bad names fail clearly."""
from __future__ import annotations

import numpy as np
import pytest

from rag.embed import load_embedder
from rag.errors import ModelUnavailable


@pytest.fixture(scope="module")
def embedder():
    from rag.config import load_settings

    return load_embedder(load_settings(env={}, overrides={"device": "cpu"}))


def test_packaged_model_dimension_is_known_without_loading(embedder):
    assert embedder.name == "all-MiniLM-L6-v2"
    assert embedder.dim == 384
    assert embedder._model is None  # dim came from the folder's config; nothing heavy loaded yet


def test_documents_are_normalised_float32_in_input_order(embedder):
    texts = ["a much longer sentence about the adverse action notice a creditor must send", "short", "credit"]
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Sorting by length inside must not reorder the output.
    for text, vector in zip(texts, vectors):
        np.testing.assert_allclose(embedder.embed_query(text), vector, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated(embedder):
    q = embedder.embed_query("When must a creditor notify an applicant of action taken on a credit application?")
    docs = embedder.embed_documents([
        "A creditor shall notify an applicant of action taken within 30 days after receiving a completed application.",
        "The controller shall erase personal data without undue delay where the data subject withdraws consent.",
        "Recipe: whisk two eggs with sugar and bake for twenty minutes.",
    ])
    scores = docs @ q
    assert scores[0] > scores[1] > scores[2]


def test_empty_batch_gives_empty_matrix(embedder):
    assert embedder.embed_documents([]).shape == (0, 384)


def test_missing_model_folder_raises_model_unavailable(settings, tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_embedder(settings.replace(embed_model=str(tmp_path / "no-such-model")))


def test_uncached_hub_name_fails_fast_with_advice(settings):
    embedder = load_embedder(settings.replace(embed_model="nobody-xyz/not-a-real-model-4821", device="cpu"))
    with pytest.raises(ModelUnavailable, match="local sentence-transformers folder"):
        embedder.embed_query("hello")


def test_folder_that_is_not_a_model_raises_model_unavailable(settings, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{}")
    embedder = load_embedder(settings.replace(embed_model=str(tmp_path / "junk"), device="cpu"))
    with pytest.raises(ModelUnavailable):
        embedder.embed_documents(["x"])


def _tuned_folder(root, side: str):
    """A tuned folder's card and config files as `regcite tune-embedder` writes them (no weights needed here)."""
    import json

    folder = root / f"tuned-{side}"
    (folder / "document_1_Pooling").mkdir(parents=True)
    (folder / "document_1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 384}))
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "",
                                                       "type": "sentence_transformers.base.modules.Router"}]))
    (folder / "regcite-tuning.json").write_text(json.dumps({"base_model": "all-MiniLM-L6-v2",
                                                            "document_model": "all-MiniLM-L6-v2",
                                                            "hyperparameters": {"side": side}}))
    return folder


def test_a_query_side_tuned_folder_is_named_by_its_document_model(settings, tmp_path):
    from rag.embed import base_model_of

    folder = _tuned_folder(tmp_path, "query")
    embedder = load_embedder(settings.replace(embed_model=str(folder)))
    # Stored with the index and checked against it: the base model's index serves this folder as it is.
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.configured == str(folder)
    assert embedder.dim == 384  # read from the document route's config, no model loaded
    assert base_model_of(str(folder)) == "all-MiniLM-L6-v2" and base_model_of("BAAI/bge-m3") == "BAAI/bge-m3"


def test_a_fully_tuned_folder_keeps_its_own_name(settings, tmp_path):
    folder = _tuned_folder(tmp_path, "both")
    assert load_embedder(settings.replace(embed_model=str(folder))).name == str(folder)
