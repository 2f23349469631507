"""Text rules every layer shares: which characters are Han, which words are stop words, tokens, sentences."""
from __future__ import annotations

import re
import unicodedata

# Han ideographs: CJK Extension A, the unified block, compatibility ideographs. One definition for every check.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Characters that are CJK-width without being Han: CJK punctuation and symbols, full-width forms.
CJK_PUNCTUATION = "\u3000-\u303f\uff00-\uffef"
HAN_CHAR = re.compile(f"[{HAN}]")


def is_han(ch: str) -> bool:
    return bool(HAN_CHAR.match(ch))


def has_han(text: str) -> bool:
    return HAN_CHAR.search(text) is not None


# Words with no meaning of their own in a rule: BM25 and the app's highlighting drop them. Words that carry meaning
# in rules ("not", "no", "only", "may", "must", "shall") stay, because "must not" is what ranks an obligation.
STOPWORDS = frozenset(
    "a an and are as at be been but by for from has have if in into is it its of on or such that the their then "
    "there these they this to was were which will with what when where who whom how does do did any all can".split()
)
# Comparing a sentence's content with a clause's (verification, relevance, extractive answers), modals,
# negations and pronouns say nothing about which clause supports it, so those comparisons drop them too.
CONTENT_STOPWORDS = STOPWORDS | frozenset(
    "about also being could each had he her his i may me must my no not other our per shall she should than them "
    "those under we whose why within would you your".split()
)

_TOKEN = re.compile(f"[a-z0-9]+|[{HAN}]")


def content_tokens(text: str) -> set[str]:
    """Lower-cased English words without stop words (plural s stripped) and Chinese character bigrams."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: set[str] = set()
    han: list[str] = []
    for t in _TOKEN.findall(text):
        if is_han(t):
            han.append(t)
            continue
        if han:
            out.update(a + b for a, b in zip(han, han[1:]))
            han = []
        if t not in CONTENT_STOPWORDS:
            out.add(t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t)
    out.update(a + b for a, b in zip(han, han[1:]))
    return out


def overlap(sentence: str, source: str) -> float:
    """Share of the sentence's content tokens found in the source, 0..1."""
    s = content_tokens(sentence)
    return len(s & content_tokens(source)) / len(s) if s else 0.0


_MARKERS = r"(?:\s*[\[【［]\s*\d+(?:\s*[,，;、]\s*\d+)*\s*[\]】］])+"
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|U\.S|No|Sec|Art|Reg|para|pp?|cf|etc|vs|Mr|Ms|Dr|Inc|Co|Corp)\.|\b[A-Z]\.)$")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of English or Chinese text; markers ([2]) that follow a full stop stay with the sentence before."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        lead = re.match(f"^{_MARKERS}", piece)
        if lead and pieces:
            pieces[-1] += lead.group(0)
            piece = piece[lead.end():].strip()
            if not piece:
                continue
        if pieces and _ABBREV.search(pieces[-1]):
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    return pieces
