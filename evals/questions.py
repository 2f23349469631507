"""Question sets: load JSONL (or import CSV), validate and date them, and check gold references against an index."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from rag.dates import iso_date
from rag.errors import RegciteError
from rag.types import Filters, Kind

from evals.metrics import covers, normalize_reference

FIELDS = ("id", "question", "answerable", "gold", "key_facts", "reference_answer", "filters", "language", "notes",
          "as_of")
SET_HEADER = "set"  # a first line {"set": {"as_of": "YYYY-MM-DD"}} dates every question that has no date of its own
_HEADER_FIELDS = ("as_of", "notes")
_DATE_FILTERS = ("as_of", "in_force_on")  # in_force_on: the key before regulation versions, still read
_LIST_SPLIT = re.compile(r"\s*[;|]\s*")  # CSV cells hold lists as "a; b" or "a | b"


class QuestionSetError(RegciteError):
    """A question set file is malformed; the message lists every problem with its line."""

    exit_code = 2


@dataclass(frozen=True)
class EvalQuestion:
    qid: str
    question: str
    answerable: bool
    gold: tuple[str, ...] = ()  # canonical clause references ("12 CFR 1002.9(a)(1)(iii)") or clause ids (ObliQA uuids)
    key_facts: tuple[str, ...] = ()  # short strings a correct answer contains ("30 days")
    reference_answer: str = ""
    filters: Filters = field(default_factory=Filters)
    language: str = ""
    notes: str = ""
    as_of: date | None = None  # the day the gold answers for (its own, else the set's); None: the run's date

    def filters_on(self, default: date) -> Filters:
        """The retrieval filters for this question, dated by its own as_of or else `default`."""
        return dataclasses.replace(self.filters, as_of=self.as_of or self.filters.as_of or default)


def _filters(raw: dict, where: str) -> Filters:
    """The filters without their date: a question's date is kept once, in EvalQuestion.as_of."""
    unknown = set(raw) - {"doc_ids", "jurisdictions", "kinds", "languages", *_DATE_FILTERS}
    if unknown:
        raise ValueError(f"{where}: unknown filter(s) {sorted(unknown)}")
    return Filters(
        doc_ids=tuple(raw.get("doc_ids", ())),
        jurisdictions=tuple(raw.get("jurisdictions", ())),
        kinds=tuple(Kind(k) for k in raw.get("kinds", ())),
        languages=tuple(raw.get("languages", ())),
    )


def _as_of(row: dict, filters: dict, where: str) -> date | None:
    """The question's date from `as_of`, `filters.as_of` or the old `filters.in_force_on`; they must agree."""
    days = {key: iso_date(value, where) for key, value in
            (("as_of", row.get("as_of")), *((f"filters.{k}", filters.get(k)) for k in _DATE_FILTERS))}
    given = {d for d in days.values() if d is not None}
    if len(given) > 1:
        raise ValueError(f"{where}: conflicting dates " + ", ".join(f"{k} {d}" for k, d in days.items() if d))
    return given.pop() if given else None


def _question(row: dict, where: str, set_as_of: date | None = None) -> EvalQuestion:
    unknown = set(row) - set(FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; known: {', '.join(FIELDS)}")
    qid, text = str(row.get("id", "")).strip(), str(row.get("question", "")).strip()
    if not qid or not text:
        raise ValueError(f"{where}: needs a non-empty id and question")
    gold = tuple(str(g).strip() for g in row.get("gold") or () if str(g).strip())
    answerable = row.get("answerable", bool(gold))
    if not isinstance(answerable, bool):
        raise ValueError(f"{where}: answerable must be true or false, got {answerable!r}")
    if answerable and not gold:
        raise ValueError(f"{where}: an answerable question needs gold references")
    if not answerable and gold:
        raise ValueError(f"{where}: an unanswerable question cannot have gold references")
    return EvalQuestion(
        qid=qid, question=text, answerable=answerable, gold=gold,
        key_facts=tuple(str(f) for f in row.get("key_facts") or ()),
        reference_answer=str(row.get("reference_answer") or ""),
        filters=_filters(row.get("filters") or {}, where), language=str(row.get("language") or ""),
        notes=str(row.get("notes") or ""), as_of=_as_of(row, row.get("filters") or {}, where) or set_as_of,
    )


def _set_date(rows: list[tuple[str, dict]], problems: list[str]) -> tuple[date | None, list[tuple[str, dict]]]:
    """The date of the set's header (its first object, if that is one) and the question rows."""
    questions = [(where, row) for where, row in rows if set(row) != {SET_HEADER}]
    day = None
    for i, (where, row) in enumerate(rows):
        if set(row) != {SET_HEADER}:
            continue
        header = row[SET_HEADER]
        try:
            if i > 0:
                raise ValueError(f'{where}: a set header {{"{SET_HEADER}": ...}} must be the first object of the file')
            if not isinstance(header, dict) or set(header) - set(_HEADER_FIELDS):
                raise ValueError(f"{where}: a set header holds an object with {' and/or '.join(_HEADER_FIELDS)}")
            day = iso_date(header.get("as_of"), where)
        except ValueError as e:
            problems.append(str(e))
    return day, questions


def _validated(rows: list[tuple[str, dict]], path: Path) -> list[EvalQuestion]:
    questions, problems, seen = [], [], set()
    set_as_of, rows = _set_date(rows, problems)
    for where, row in rows:
        qid = str(row.get("id", "")).strip()
        if qid and qid in seen:
            problems.append(f"{where}: duplicate id {qid!r}")
        seen.add(qid)
        try:
            questions.append(_question(row, where, set_as_of))
        except (ValueError, TypeError) as e:
            problems.append(str(e))
    if problems:
        raise QuestionSetError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if not questions:
        raise QuestionSetError(f"{path}: no questions")
    return questions


def _jsonl_rows(path: Path) -> list[tuple[str, dict]]:
    rows, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not JSON ({e.msg})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {n}: expected an object")
            continue
        rows.append((f"line {n}", row))
    if problems:
        raise QuestionSetError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return rows


def _csv_rows(path: Path) -> list[tuple[str, dict]]:
    """Columns: id, question, gold, answerable, key_facts, reference_answer, language, notes, as_of (lists split
    on ; or |)."""
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for n, raw in enumerate(csv.DictReader(f), 2):  # line 1 is the header
            row: dict = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            for key in ("gold", "key_facts"):
                row[key] = [x for x in _LIST_SPLIT.split(row.get(key, "")) if x]
            if row.get("answerable", "") == "":
                row.pop("answerable", None)
            else:
                flag = row["answerable"].lower()
                row["answerable"] = True if flag in ("1", "true", "yes", "y") else False if flag in ("0", "false", "no", "n") else flag
            rows.append((f"line {n}", row))
    return rows


def load_set(path: str | Path) -> list[EvalQuestion]:
    """A question set from .jsonl (one object a line) or .csv; raises QuestionSetError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise QuestionSetError(f"question set {path} does not exist")
    if path.suffix.lower() == ".csv":
        return _validated(_csv_rows(path), path)
    return _validated(_jsonl_rows(path), path)


def to_row(q: EvalQuestion) -> dict:
    """The canonical row; the question's date is a top-level `as_of` (a set header's date goes on each question)."""
    row: dict = {"id": q.qid, "question": q.question, "answerable": q.answerable, "gold": list(q.gold)}
    as_of = q.as_of or q.filters.as_of
    for key, value in (("key_facts", list(q.key_facts)), ("reference_answer", q.reference_answer),
                       ("language", q.language), ("notes", q.notes), ("as_of", as_of and as_of.isoformat())):
        if value:
            row[key] = value
    f = {k: v for k, v in asdict(q.filters.without_date()).items() if v}
    if f:
        f = {k: ([getattr(x, "value", x) for x in v] if isinstance(v, tuple) else v.isoformat()) for k, v in f.items()}
        row["filters"] = f
    return row


def write_jsonl(questions: list[EvalQuestion], path: str | Path) -> None:
    """The canonical form of a set (how a CSV import is saved)."""
    Path(path).write_text("".join(json.dumps(to_row(q), ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")


def set_fingerprint(questions: list[EvalQuestion]) -> str:
    """sha256 of the canonical rows: a run folder refuses to resume with a different set."""
    data = json.dumps([to_row(q) for q in questions], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MissingGold:
    qid: str
    gold: str
    nearest: tuple[str, ...]  # indexed references that share the longest prefix, to help fix a typo


def missing_gold(questions: list[EvalQuestion], references: list[str], clause_ids: set[str]) -> list[MissingGold]:
    """Gold entries that name no indexed clause: neither a clause id nor a reference (or ancestor of one)."""
    normalized = sorted({normalize_reference(r) for r in references})
    out = []
    for q in questions:
        for g in q.gold:
            if g in clause_ids:
                continue
            ng = normalize_reference(g)
            if any(covers(ng, r) for r in _with_prefix(normalized, ng)):
                continue
            out.append(MissingGold(q.qid, g, _nearest(normalized, ng)))
    return out


def _with_prefix(sorted_refs: list[str], prefix: str) -> list[str]:
    import bisect

    i = bisect.bisect_left(sorted_refs, prefix)
    out = []
    while i < len(sorted_refs) and sorted_refs[i].startswith(prefix):
        out.append(sorted_refs[i])
        i += 1
    return out


def _nearest(sorted_refs: list[str], ref: str, n: int = 3) -> tuple[str, ...]:
    for cut in range(len(ref), 0, -1):
        found = _with_prefix(sorted_refs, ref[:cut])
        if found:
            return tuple(found[:n])
    return ()
