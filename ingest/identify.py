"""Document identity and metadata: stable doc_id, title, kind, jurisdiction, language, effective date, scheme."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.load import LoadedText
from ingest.schemes import EU, HEADINGS, PRC, US_CFR
from rag.numerals import ORDINAL_CHARS
from rag.text import is_han
from rag.types import Kind

# Regulations (EU) known by a short name; others keep "Regulation (EU) YYYY/N".
_EU_SHORT = {"2016/679": "GDPR"}
_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), 1)}
_HEAD_CHARS = 20000  # identity is decided on the opening of the document; keeps a 260-page 10-K cheap

_CFR_TITLE = re.compile(r"\b(\d{1,2})\s+CFR\s+(?:Part\s+)?(\d{2,4})\b", re.I)
_CFR_STEM = re.compile(r"^(\d{1,2})cfr(\d{2,4})(?:_|$)", re.I)
_CFR_SECTION = re.compile(r"^§\s*(\d+)\.\d+", re.M)
_PART_HEADING = re.compile(r"^Part\s+(\d+)\b", re.I | re.M)
_EU_ID = re.compile(r"\b(Regulation|Directive)\s*\((EU|EC|EEC)\)\s*(?:No\s*)?(\d{4}/\d+|\d+/\d{4})", re.I)
_EU_ARTICLE = re.compile(r"^Article\s+\d+[a-z]?\s*$", re.M)
_PRC_ARTICLE = re.compile(rf"^第[{ORDINAL_CHARS}\d]+条", re.M)
_PRC_TITLE = re.compile(r"^(?:中华人民共和国)?(\S{2,30}?(?:法|条例|规定|办法|细则|决定|规则))$")
_FORM = re.compile(r"\bForm\s+(10-K|10-Q|20-F|8-K)\b", re.I)
_FISCAL_YEAR = re.compile(r"fiscal\s+year\s+ended\s+\w+\s+\d{1,2},\s+(\d{4})", re.I)
_REGISTRANT = re.compile(r"^(.{2,80})\n\(Exact name of registrant", re.M)

_ISO = r"(\d{4})-(\d{2})-(\d{2})"
_LONG = r"(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})|([A-Za-z]+)\s+(\d{1,2}),\s+(\d{4})"
_EFFECTIVE = re.compile(
    rf"(?:Effective\s+(?:date|on|as\s+of)\s*[:\-]?\s*|shall\s+apply\s+from\s+)(?:{_ISO}|{_LONG})", re.I)
# "本法自2025年1月1日起施行" / "本条例自…起施行": the statute's own commencement article, usually its last.
_PRC_EFFECTIVE = re.compile(r"自\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日起施行")


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str  # the instrument across versions and formats: "12 CFR 1002", "GDPR", "反洗钱法"
    title: str
    kind: Kind
    jurisdiction: str  # "US", "EU", "CN", "" when unknown
    language: str  # "en", "zh"
    effective_from: date | None
    scheme: str  # numbering the clause parser uses: a name in ingest.schemes.SCHEMES


def identify(path: str | Path, loaded: LoadedText) -> DocumentInfo:
    """Work out what a loaded file is from its opening text and its file name."""
    path = Path(path)
    head = loaded.text[:_HEAD_CHARS]
    language = language_of(head)
    title = loaded.title.strip() or path.stem
    scheme = _scheme_of(loaded.text, head, path)
    effective = _effective_date(head, loaded.text)

    if scheme == US_CFR:
        return DocumentInfo(_cfr_doc_id(title, head, path, loaded.text), title, Kind.REGULATION, "US", language,
                            effective, scheme)
    if scheme == EU:
        return DocumentInfo(_eu_doc_id(title, head, path), title, Kind.REGULATION, "EU", language, effective, scheme)
    if scheme == PRC:
        doc_id = _prc_doc_id(title, head, path)
        return DocumentInfo(doc_id, title, Kind.REGULATION, "CN", language, effective, scheme)
    form = _FORM.search(head[:5000])
    if form:
        registrant = _REGISTRANT.search(head[:5000])
        year = _FISCAL_YEAR.search(head[:5000])
        name = registrant.group(1).strip() if registrant else path.stem
        name = re.sub(r",?\s+(Company|Corporation|Inc\.?|Incorporated|Corp\.?|plc|N\.A\.)$", "", name)
        doc_id = " ".join(p for p in (name, year.group(1) if year else "", f"Form {form.group(1).upper()}") if p)
        return DocumentInfo(doc_id, doc_id, Kind.FILING, "US", language, effective, HEADINGS)
    return DocumentInfo(path.stem, title, Kind.REPORT, "", language, effective, HEADINGS)


def language_of(text: str) -> str:
    """'zh' when Han ideographs are at least a fifth of the letters, else 'en' (script share, not a model)."""
    cjk = latin = 0
    for ch in text[:_HEAD_CHARS]:
        if is_han(ch):
            cjk += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    # A Chinese character carries about a word; weigh Latin letters per ~5-letter word.
    return "zh" if cjk and cjk >= 0.2 * (cjk + latin / 5) else "en"


def _scheme_of(text: str, head: str, path: Path) -> str:
    if len(_PRC_ARTICLE.findall(head)) >= 3 or (len(_PRC_ARTICLE.findall(text)) >= 3 and language_of(head) == "zh"):
        return PRC
    if _CFR_STEM.match(path.stem) or _CFR_SECTION.search(head) or _CFR_SECTION.search(text):
        return US_CFR
    if len(_EU_ARTICLE.findall(text)) >= 3 or (_EU_ID.search(head[:3000]) and _EU_ARTICLE.search(text)):
        return EU
    return HEADINGS


def _cfr_doc_id(title: str, head: str, path: Path, text: str) -> str:
    for source in (title, head[:2000]):
        match = _CFR_TITLE.search(source)
        if match:
            return f"{int(match.group(1))} CFR {match.group(2)}"
    match = _CFR_STEM.match(path.stem)
    if match:
        return f"{int(match.group(1))} CFR {match.group(2)}"
    # Without a CFR title number the part alone is the best stable name ("Part 900").
    match = _PART_HEADING.search(head[:2000]) or _CFR_SECTION.search(text)
    return f"Part {match.group(1)}" if match else path.stem


def _eu_doc_id(title: str, head: str, path: Path) -> str:
    match = _EU_ID.search(title) or _EU_ID.search(head[:3000])
    if match:
        number = match.group(3)
        return _EU_SHORT.get(number, f"{match.group(1).title()} ({match.group(2).upper()}) {number}")
    if "general data protection regulation" in (title + head[:3000]).lower():
        return "GDPR"
    return path.stem


def _prc_doc_id(title: str, head: str, path: Path) -> str:
    for line in [title, *head[:600].split("\n")[:5], _strip_stem_date(path.stem)]:
        # "反洗钱法（节选）": a bracketed note after the title is not part of the name.
        match = _PRC_TITLE.match(re.sub(r"[（(][^）)]*[）)]$", "", line.replace(" ", "").strip()))
        if match:
            return match.group(1)
    return _strip_stem_date(path.stem)


def _strip_stem_date(stem: str) -> str:
    return re.sub(r"[(（_\- ]*\d{4}-?\d{2}-?\d{2}[)）]?", "", stem).strip() or stem


def _effective_date(head: str, text: str) -> date | None:
    """The date the document itself says it takes effect, or None: a date in the file name is not the document's
    word (the AML law's file carries its adoption date, 2024-11-08; it took effect on 2025-01-01)."""
    match = _EFFECTIVE.search(head) or _EFFECTIVE.search(text[-_HEAD_CHARS:])
    if match:
        parsed = _date_of(match.groups())
        if parsed:
            return parsed
    for match in reversed(list(_PRC_EFFECTIVE.finditer(text[-_HEAD_CHARS:]))):  # the commencement article is last
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            continue
    return None


def _date_of(groups: tuple) -> date | None:
    y, m, d, d2, mon2, y2, mon3, d3, y3 = groups
    try:
        if y:
            return date(int(y), int(m), int(d))
        if d2:
            return date(int(y2), _MONTHS[mon2.lower()], int(d2))
        if mon3:
            return date(int(y3), _MONTHS[mon3.lower()], int(d3))
    except (KeyError, ValueError):
        return None
    return None
