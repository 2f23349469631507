"""BM25 (bm25s) over clause text: stemmed English words and word pairs, Han characters and bigrams.

Built once per generation by the writer and saved beside its vector file (`save`), then memory-mapped by every
reader (`load`), so no process re-tokenises the corpus to answer one question.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.text import HAN, STOPWORDS, is_han

# Latin words and numbers, or runs of Han characters; everything else separates tokens.
_TOKEN = re.compile(f"[0-9a-z]+|[{HAN}]+")


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer: Snowball in C
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


# BM25 parameters, chosen on the ObliQA dev split (benchmarks/results/obliqa.json): over k1 0.7-1.2 and b 0.5-0.75
# the hybrid moved by under 0.005 Recall@10; a lower b than Lucene's 0.75 penalises long rules a little less.
K1 = 0.9
B = 0.6


def _tokens(text: str, pairs: bool) -> list[str]:
    stem = _stemmer()
    tokens: list[str] = []
    previous = None  # the last English token, for word pairs; a Han run breaks the chain, a stopword does not
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text).lower()):
        word = match.group()
        if is_han(word[0]):
            tokens.extend(word)
            tokens.extend(word[i : i + 2] for i in range(len(word) - 1))
            previous = None
        elif word not in STOPWORDS:
            token = stem.stemWord(word) if stem is not None and not word.isdigit() else word
            tokens.append(token)
            if pairs and previous is not None:
                tokens.append(f"{previous}_{token}")
            previous = token
    return tokens


def tokenize(text: str) -> list[str]:
    """Lower-case stemmed English words (stopwords dropped) and, for Han text, single characters plus bigrams.

    Bigrams let "净资本" match without a dictionary segmenter; unigrams keep one-character words findable.
    """
    return _tokens(text, pairs=False)


def terms(text: str) -> list[str]:
    """What BM25 indexes and queries: tokenize() plus each pair of neighbouring English words ("advers_action").

    Pairs reward phrases ("money laundering", "client money") over scattered words; on ObliQA dev they raised
    BM25 Recall@10 from 0.761 to 0.785 and the default hybrid by about 0.01 (benchmarks/results/obliqa_sweep.json).
    Stopwords are skipped before pairing, so "notice of error" gives "notic_error".
    """
    return _tokens(text, pairs=True)


# Bump when terms() or the stemmer's use changes: a saved index with another version is rebuilt, not trusted.
TERMS_VERSION = 1
SAVED = "regcite-lexical.json"  # size, terms version, k1, b and a sha256 over the other files
# The saved form: bm25s's precomputed score matrix (one CSC column per term: the documents it occurs in and its BM25
# weight there) and the vocabulary as sorted UTF-8 terms with offsets, so a reader maps arrays and parses nothing.
ARRAYS = ("data", "indices", "indptr", "term_offsets", "term_ids")
TERMS = "terms.utf8"


def lexical_text(clause) -> str:
    """What BM25 sees: the clause with its reference and nearest heading, so "Article 17" or a title word match."""
    heading = clause.headings[-1] if clause.headings else ""
    return f"{clause.reference} {heading} {clause.text}"


class _SortedTerms:
    """term -> id over a memory-mapped sorted vocabulary: a binary search of a few steps instead of loading a dict
    of 150,000 terms (a quarter of a second) in every process."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, ids: np.ndarray):
        self._blob, self._offsets, self._ids = blob, offsets, ids

    def get(self, term: str) -> int | None:
        key = term.encode("utf-8")
        lo, hi = 0, len(self._ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._blob[self._offsets[mid]:self._offsets[mid + 1]].tobytes() < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._ids) and self._blob[self._offsets[lo]:self._offsets[lo + 1]].tobytes() == key:
            return int(self._ids[lo])
        return None


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over a fixed list of texts, scored in full so any filter mask applies exactly.

    bm25s builds the score matrix; scoring sums its columns for the query's terms in numpy (the sums bm25s makes,
    in the same order), so a saved index is read without importing bm25s or scipy."""

    def __init__(self, texts: Sequence[str], k1: float = K1, b: float = B):
        import logging

        self.size = len(texts)
        self.k1, self.b = k1, b
        tokenized = [terms(t) for t in texts]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in toks] for toks in tokenized]
        self._vocab = vocab
        self._data = np.zeros(0, dtype=np.float32)
        self._indices = np.zeros(0, dtype=np.int32)
        self._indptr = np.zeros(1, dtype=np.int64)
        if self.size:
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG via its own handler
            bm25 = bm25s.BM25(k1=k1, b=b)
            # A copy: bm25s adds an empty-string entry of its own to the vocabulary it is given.
            bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=dict(vocab)), show_progress=False)
            self._data = np.asarray(bm25.scores["data"], dtype=np.float32)
            self._indices = np.asarray(bm25.scores["indices"], dtype=np.int32)
            self._indptr = np.asarray(bm25.scores["indptr"], dtype=np.int64)

    def save(self, folder: Path) -> str:
        """Write the index into folder (created), every file fsynced; returns a sha256 over what was written."""
        folder.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self._vocab.items(), key=lambda kv: kv[0].encode("utf-8")) if self._vocab else []
        encoded = [t.encode("utf-8") for t, _ in ordered]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        (folder / TERMS).write_bytes(b"".join(encoded))
        arrays = {"data": self._data, "indices": self._indices, "indptr": self._indptr, "term_offsets": offsets,
                  "term_ids": np.array([i for _, i in ordered], dtype=np.int32)}
        for name in ARRAYS:
            np.save(folder / f"{name}.npy", arrays[name], allow_pickle=False)
        digest = _digest(folder)
        (folder / SAVED).write_text(json.dumps({"size": self.size, "terms_version": TERMS_VERSION, "k1": self.k1,
                                                "b": self.b, "sha256": digest}), encoding="utf-8")
        for path in folder.iterdir():  # the folder is renamed into place after this: its files must be on disk
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        return digest

    @classmethod
    def load(cls, folder: Path, size: int, sha256: str = "", k1: float = K1, b: float = B) -> "LexicalIndex | None":
        """The index saved in folder, memory-mapped; None when it is missing, from another terms version or
        parameters, of another size, or (with sha256) not the bytes the writer recorded."""
        try:
            saved = json.loads((folder / SAVED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (saved.get("size"), saved.get("terms_version"), saved.get("k1"), saved.get("b")) != (size, TERMS_VERSION,
                                                                                              k1, b):
            return None
        try:
            if sha256 and (saved.get("sha256") != sha256 or _digest(folder) != sha256):
                return None
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
            blob = np.memmap(folder / TERMS, dtype=np.uint8, mode="r") if (folder / TERMS).stat().st_size else (
                np.zeros(0, dtype=np.uint8))
        except (OSError, ValueError):
            return None
        if len(arrays["indptr"]) != len(arrays["term_ids"]) + 1 or len(arrays["term_offsets"]) != len(
                arrays["term_ids"]) + 1:
            return None
        self = cls.__new__(cls)
        self.size, self.k1, self.b = size, k1, b
        self._data, self._indices, self._indptr = arrays["data"], arrays["indices"], arrays["indptr"]
        self._vocab = _SortedTerms(blob, arrays["term_offsets"], arrays["term_ids"])
        return self

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query, shape (size,); zeros when no query token is known."""
        scores = np.zeros(self.size, dtype=np.float32)
        ids = [i for t in dict.fromkeys(terms(query)) if (i := self._vocab.get(t)) is not None]
        if not ids or not self.size:
            return scores
        spans = [(int(self._indptr[i]), int(self._indptr[i + 1])) for i in ids]
        np.add.at(scores, np.concatenate([self._indices[a:b] for a, b in spans]),
                  np.concatenate([self._data[a:b] for a, b in spans]))
        return scores

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to k (position, score) with a positive score, best first, only where allowed is true."""
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        k = min(k, positive)
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best]


def _digest(folder: Path) -> str:
    """sha256 over the names and bytes of the files in folder (not the manifest that records it)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.name != SAVED and p.is_file()):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
