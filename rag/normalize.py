"""Text normalisation shared by ingestion and queries: NFKC plus the fixes NFKC leaves undone."""
from __future__ import annotations

import re
import unicodedata

# CJK Radicals Supplement code points that pypdf emits for Chromium-printed Chinese PDFs in place of the
# ideograph (NFKC leaves this block alone). The first five were seen in ../shared/corpus/regulations/cn and
# checked against the Markdown versions; the rest are the other simplified radicals whose glyph is a whole
# common character, so other PDFs from the same printer come out right too.
_RADICALS = {
    "\u2ea0": "民", "\u2ec5": "见", "\u2ed3": "长", "\u2ed4": "门", "\u2edb": "风",
    "\u2ec6": "角", "\u2ec8": "讠", "\u2ec9": "贝", "\u2ecb": "车", "\u2ed0": "钅", "\u2ed9": "韦",
    "\u2eda": "页", "\u2edc": "飞", "\u2ee0": "饣", "\u2ee2": "马", "\u2ee5": "鱼", "\u2ee6": "鸟",
    "\u2ee7": "卤", "\u2ee8": "麦", "\u2ee9": "黄", "\u2eea": "黾", "\u2eec": "齐", "\u2eee": "齿",
    "\u2ef0": "龙", "\u2ef3": "龟",
}

# Kangxi radicals whose NFKC target is the traditional form where the Chromium-printed PRC text means the
# simplified character (seen: ⼾ U+2F3E -> 户, 179 times in the three statutes). Applied before NFKC.
_PRE_NFKC = str.maketrans({"\u2f3e": "户"})

# Applied after NFKC. Soft hyphens and zero-width marks vanish; every space-like character becomes a plain
# space (NFKC already maps NBSP and the typographic spaces, not these).
_TABLE = str.maketrans({
    **_RADICALS,
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    # Legacy private-use ligatures (Adobe/Apple fonts) that pypdf passes through from Chromium's embedded fonts.
    "\uf001": "fi", "\uf002": "fl",
    "\u3000": " ", "\t": " ", "\u2028": "\n", "\u2029": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n",
})
_NEEDS_NFKC = re.compile(r"[^\x00-\x7f]")
# Full-width punctuation is how Chinese text is written (，：（一）); NFKC would turn it into ASCII and change
# the text users read and the references they type, so it is kept. Full-width letters and digits still fold.
_FULLWIDTH_PUNCT = re.compile(r"([\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff5e]+)")


def normalize_text(s: str) -> str:
    """NFKC (ligatures, full-width letters, Kangxi radicals, NBSP), CJK supplement radicals, soft hyphens, CRLF.

    Pure and idempotent; the result may be shorter or longer than the input (ﬁ -> fi), so callers that keep
    offsets normalise first and count in the normalised text.
    """
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if _NEEDS_NFKC.search(s) is None:
        return s.translate(_TABLE) if ("\t" in s or "\x0c" in s or "\x0b" in s) else s
    parts = _FULLWIDTH_PUNCT.split(s.translate(_PRE_NFKC))
    # split() with one group alternates text, punctuation, text, ...: only the text runs go through NFKC.
    for i in range(0, len(parts), 2):
        parts[i] = unicodedata.normalize("NFKC", parts[i])
    return "".join(parts).translate(_TABLE)
