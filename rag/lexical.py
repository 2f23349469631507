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
SAVED = "regcite-lexical.json"  # size, terms version, k1, b and a sha256 over the bm25s files


def lexical_text(clause) -> str:
    """What BM25 sees: the clause with its reference and nearest heading, so "Article 17" or a title word match."""
    heading = clause.headings[-1] if clause.headings else ""
    return f"{clause.reference} {heading} {clause.text}"


def _bm25s():
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG through its own handler
    return bm25s


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over a fixed list of texts, scored in full so any filter mask applies exactly."""

    def __init__(self, texts: Sequence[str], k1: float = K1, b: float = B):
        bm25s = _bm25s()
        self.size = len(texts)
        self.k1, self.b = k1, b
        tokenized = [terms(t) for t in texts]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in toks] for toks in tokenized]
        self._vocab = vocab
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.size:
            self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    def save(self, folder: Path) -> str:
        """Write the index into folder (created) and return a sha256 over everything written."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self._bm25.save(str(folder), show_progress=False)
        digest = _digest(folder)
        (folder / SAVED).write_text(json.dumps({"size": self.size, "terms_version": TERMS_VERSION, "k1": self.k1,
                                                "b": self.b, "sha256": digest}), encoding="utf-8")
        for path in folder.iterdir():  # the folder is renamed into place after this: its files must be on disk
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        return digest

    @classmethod
    def load(cls, folder: Path, size: int, sha256: str = "", k1: float = K1, b: float = B) -> "LexicalIndex | None":
        """The index saved in folder, its score arrays memory-mapped; None when it is missing, from another terms
        version or parameters, of another size, or (with sha256) not the bytes the writer recorded."""
        try:
            saved = json.loads((folder / SAVED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (saved.get("size"), saved.get("terms_version"), saved.get("k1"), saved.get("b")) != (size, TERMS_VERSION,
                                                                                              k1, b):
            return None
        if sha256 and (saved.get("sha256") != sha256 or _digest(folder) != sha256):
            return None
        self = cls.__new__(cls)
        self.size, self.k1, self.b = size, k1, b
        if size:
            try:
                self._bm25 = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False)
            except (OSError, ValueError, KeyError):
                return None
            self._vocab = self._bm25.vocab_dict
        else:
            self._bm25, self._vocab = None, {}
        return self

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query, shape (size,); zeros when no query token is known."""
        ids = [self._vocab[t] for t in dict.fromkeys(terms(query)) if t in self._vocab]
        if not ids or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)

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
    """sha256 over the names and bytes of the bm25s files in folder (not the manifest that records it)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.name != SAVED and p.is_file()):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
