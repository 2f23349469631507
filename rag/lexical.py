"""BM25 (bm25s) over clause text: stemmed English words and word pairs, Han characters and bigrams."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
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


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over a fixed list of texts, scored in full so any filter mask applies exactly."""

    def __init__(self, texts: Sequence[str], k1: float = K1, b: float = B):
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG through its own handler

        self.size = len(texts)
        tokenized = [terms(t) for t in texts]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in toks] for toks in tokenized]
        self._vocab = vocab
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.size:
            self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

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
