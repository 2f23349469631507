"""BM25 over clause text with bm25s: stemmed English words and Han-character bigrams, so Chinese works too."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Sequence

import numpy as np

# Latin words and numbers, or runs of Han characters; everything else separates tokens.
_TOKEN = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# bm25s's English list, minus words that carry meaning in rules ("not", "no", "nor", "only", "may", "must").
_STOPWORDS = frozenset(
    "a an and are as at be been but by for from has have if in into is it its of on or such that the their then "
    "there these they this to was were which will with what when where who whom how does do did any all can".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer: Snowball in C
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-case stemmed English words (stopwords dropped) and, for Han text, single characters plus bigrams.

    Bigrams let "净资本" match without a dictionary segmenter; unigrams keep one-character words findable.
    """
    stem = _stemmer()
    tokens: list[str] = []
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text).lower()):
        word = match.group()
        if word[0] >= "\u3400":
            tokens.extend(word)
            tokens.extend(word[i : i + 2] for i in range(len(word) - 1))
        elif word not in _STOPWORDS:
            tokens.append(stem.stemWord(word) if stem is not None and not word.isdigit() else word)
    return tokens


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over a fixed list of texts, scored in full so any filter mask applies exactly."""

    def __init__(self, texts: Sequence[str]):
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG through its own handler

        self.size = len(texts)
        tokenized = [tokenize(t) for t in texts]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in toks] for toks in tokenized]
        self._vocab = vocab
        self._bm25 = bm25s.BM25()
        if self.size:
            self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query, shape (size,); zeros when no query token is known."""
        ids = [self._vocab[t] for t in dict.fromkeys(tokenize(query)) if t in self._vocab]
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
