"""Pure functions that turn Answers, Citations and clauses into the Markdown the app shows (no streamlit here)."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date

from rag.text import HAN_CHAR, STOPWORDS
from rag.types import Answer, CharSpan, Citation, Clause, DocumentVersion, Verdict, worst_verdict

# Every ASCII punctuation mark is escaped: document text then can neither become Markdown structure, nor a
# Streamlit directive (":red[...]", ":material/x:"), nor LaTeX ("$"), nor HTML ("<script>" shows literally).
_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

VERDICT_STYLE = {
    # colour, Material icon, label: colour and icon both differ so the verdict survives colour blindness
    Verdict.SUPPORTED: ("green", "check_circle", "Supported"),
    Verdict.PARTIAL: ("orange", "error", "Partly supported"),
    Verdict.UNSUPPORTED: ("red", "cancel", "Unsupported"),
}


def md_escape(text: str) -> str:
    """Document text as Markdown that renders literally: whitespace runs collapse to one space."""
    return _PUNCT.sub(r"\\\1", " ".join(text.split()))


def streaming_md(text: str) -> str:
    """A model's reply as it streams in: escaped, and any sentence repeating the answering rules withheld."""
    from rag.planted import withhold_echoes

    return md_escape(withhold_echoes(text))


def md_paragraphs(text: str) -> str:
    """Escaped text keeping blank-line paragraph breaks; single line breaks (PDF line wraps) become spaces."""
    return "\n\n".join(md_escape(p) for p in re.split(r"\n\s*\n", text) if p.strip())


def verdict_badge(verdict: Verdict) -> str:
    colour, icon, label = VERDICT_STYLE[verdict]
    return f":{colour}-badge[:material/{icon}: {label}]"


def _terms(sentence: str) -> tuple[set[str], str]:
    words = {w.lower() for w in _WORD.findall(sentence) if not HAN_CHAR.search(w)}
    return {w for w in words if w.isdigit() or (len(w) > 2 and w not in STOPWORDS)}, sentence


def support_mask(quote: str, sentence: str) -> list[bool]:
    """Per character of quote: is it part of a word (or, for Chinese, a two-character run) the sentence also has."""
    terms, raw = _terms(sentence)
    mask = [False] * len(quote)
    for m in _WORD.finditer(quote):
        word = m.group()
        if HAN_CHAR.search(word):
            for i in range(m.start(), m.end() - 1):
                if quote[i:i + 2] in raw:
                    mask[i] = mask[i + 1] = True
        elif word.lower() in terms:
            mask[m.start():m.end()] = [True] * (m.end() - m.start())
    # Bridge single spaces between highlighted words so a phrase reads as one mark.
    for i in range(1, len(quote) - 1):
        if not mask[i] and quote[i] == " " and mask[i - 1] and mask[i + 1]:
            mask[i] = True
    return mask


def escape_run(text: str) -> str:
    """Like md_escape, but a run's leading or trailing whitespace survives as one space."""
    body = md_escape(text)
    if not body:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + body + (" " if text[-1].isspace() else "")


def highlight(text: str, mask: list[bool], colour: str = "orange") -> str:
    """Escaped Markdown of text with the masked runs on a coloured background."""
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and mask[j] == mask[i]:
            j += 1
        run = escape_run(text[i:j])
        if mask[i] and run.strip():
            lead, trail = run[: len(run) - len(run.lstrip())], run[len(run.rstrip()):]
            out.append(f"{lead}:{colour}-background[{run.strip()}]{trail}")
        else:
            out.append(run)
        i = j
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def supported_md(text: str, sentences: list[str], colour: str = "orange") -> str:
    """A cited clause's text, escaped, with the words the citing sentences share highlighted (as on a card)."""
    return highlight(text, support_mask(text, " ".join(sentences)), colour)


def effective_label(start: date | None, end: date | None, today: date) -> str:
    """A version's dates as a card names them; end is exclusive (the next version's effective date)."""
    if start is None:
        return f"effective until {end.isoformat()}" if end else "effective dates unknown"
    if end is not None:
        return f"effective {start.isoformat()} to {end.isoformat()}"
    if start > today:
        return f"in force from {start.isoformat()} (not yet in force)"
    return f"in force since {start.isoformat()}"


def file_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Card:
    """One cited clause as the Ask page shows it; several sentences may cite it."""

    number: int  # 1-based, order of first citation in the answer
    anchor: str  # HTML id the answer's markers link to
    marker: str
    clause_id: str
    version_id: str
    reference: str
    title: str
    pages: str  # "p. 14", "pp. 14-15"
    verdict: Verdict  # worst over the sentences that cite it
    score: float  # best semantic support over those sentences
    quote: str
    quote_md: str  # escaped, supporting words highlighted
    sentences: tuple[int, ...]  # 1-based sentence numbers that cite it
    effective: str = ""  # the cited version's dates: "effective 2016-07-11 to 2022-01-01", "in force since …"
    source_file: str = ""  # the cited version's file name, "" when the citation does not say


def cards_of(answer: Answer, prefix: str = "cite", today: date | None = None) -> list[Card]:
    """One card per cited clause; anchors are f"{prefix}-{number}" (unique per turn when the prefix names it)."""
    today = today or date.today()
    uses: dict[str, list[tuple[int, Citation, str]]] = {}
    for n, sentence in enumerate(answer.sentences, 1):
        for c in sentence.citations:
            uses.setdefault(c.clause_id, []).append((n, c, sentence.text))
    cards = []
    for number, (clause_id, used) in enumerate(uses.items(), 1):
        first = used[0][1]
        support = " ".join(text for _, _, text in used)
        cards.append(Card(
            number=number, anchor=f"{prefix}-{number}", marker=first.marker, clause_id=clause_id,
            version_id=first.version_id, reference=first.reference, title=first.document_title,
            pages=str(first.page_span), verdict=worst_verdict(c.verdict for _, c, _ in used),
            score=max(c.score for _, c, _ in used), quote=first.quote,
            quote_md=highlight(first.quote, support_mask(first.quote, support)),
            sentences=tuple(dict.fromkeys(n for n, _, _ in used)),
            effective=effective_label(first.effective_from, first.effective_to, today),
            source_file=file_name(first.source_path),
        ))
    return cards


def answer_body_md(answer: Answer, cards: list[Card]) -> str:
    """The answer, sentence by sentence, each marker a link to its card; doubtful sentences flagged."""
    number = {c.clause_id: c.number for c in cards}
    parts = []
    for s in answer.sentences:
        links = "".join(
            f"[\\[{number[c.clause_id]}\\]](#{cards[number[c.clause_id] - 1].anchor})"
            for c in dict((c.clause_id, c) for c in s.citations).values()
        )
        flag = "" if s.verdict is Verdict.SUPPORTED else " " + verdict_badge(s.verdict)
        parts.append(f"{md_escape(s.text)} {links}{flag}".rstrip())
    return " ".join(parts) if parts else md_escape(answer.text)


def banner_of(answer: Answer) -> tuple[str, str] | None:
    """(level, message) for st.warning / st.info, or None."""
    if answer.abstained and answer.notes:  # nothing in force that day: the answer's own words say which and when
        return ("warning", md_escape(answer.text))
    if answer.abstained:
        return ("warning", "The indexed documents do not answer this question, so regcite abstains rather than guess. "
                           + md_escape(answer.text))
    if answer.fallback_reason:
        return ("info", f"The configured model could not answer ({md_escape(answer.fallback_reason)}); this answer "
                        "was assembled extractively from the retrieved clauses.")
    return None


def as_of_md(answer: Answer) -> str:
    return f":blue-badge[:material/event: As of {answer.as_of.isoformat()}]" if answer.as_of else ""


def notes_md(answer: Answer) -> str:
    """The answer's notes that the banner has not already said (an abstention's text names what was not in force)."""
    notes = [n for n in answer.notes if not (answer.abstained and n in answer.text)]
    if len(notes) == 1:
        return md_escape(notes[0])
    return "\n".join(f"- {md_escape(n)}" for n in notes)


def total_ms(answer: Answer) -> float:
    return answer.timings_ms.get("total", sum(answer.timings_ms.values()))


def _seconds(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


_STAGES = (("retrieve", "retrieval"), ("first_token", "first token"), ("generate", "generation"), ("verify", "verification"))


def meta_line(answer: Answer) -> str:
    """Who answered and how long it took: backend, model (when it says more than the backend), latency by stage."""
    model = f" · {md_escape(answer.model)}" if answer.model and answer.model != answer.backend else ""
    stages = ", ".join(f"{label} {_seconds(answer.timings_ms[k])}" for k, label in _STAGES if k in answer.timings_ms)
    dropped = f" · {answer.dropped_markers} marker(s) dropped" if answer.dropped_markers else ""
    return (f":material/memory: {md_escape(answer.backend)}{model} · :material/timer: {_seconds(total_ms(answer))}"
            f"{f' ({stages})' if stages else ''}{dropped}")


def answer_to_markdown(answer: Answer) -> str:
    """Plain Markdown for a memo: question, answer with markers, then each source with its verdict and quote."""
    cards = cards_of(answer)
    number = {c.clause_id: c.number for c in cards}
    lines = [f"## Question\n\n{answer.question}\n", "## Answer\n"]
    if answer.as_of:
        lines.append(f"_As of {answer.as_of.isoformat()}._\n")
    if answer.abstained:
        lines.append("_No answer: the indexed documents do not address this question._\n")
    body = " ".join(
        s.text + "".join(f" [{number[c]}]" for c in dict.fromkeys(c.clause_id for c in s.citations))
        for s in answer.sentences
    )
    lines.append((body or answer.text) + "\n")
    if answer.notes:
        lines.append("\n".join(f"> {n}" for n in answer.notes) + "\n")
    if cards:
        lines.append("## Sources\n")
        for c in cards:
            _, _, label = VERDICT_STYLE[c.verdict]
            source = f", {c.source_file}" if c.source_file else ""
            lines.append(f"{c.number}. **{c.reference}**, {c.pages}: {c.title} (version {c.version_id}, "
                         f"{c.effective}{source}); "
                         f"{label.lower()}, support {c.score:.2f}\n   > {' '.join(c.quote.split())}")
        lines.append("")
    model = f" / {answer.model}" if answer.model and answer.model != answer.backend else ""
    lines.append(f"_Answered by {answer.backend}{model} "
                 f"in {total_ms(answer) / 1000:.2f} s with regcite._\n")
    return "\n".join(lines)


def context_md(text: str, span: CharSpan, quote: str = "", radius: int = 600) -> str:
    """A clause inside its surrounding text: neighbours greyed, the quote (if found) highlighted."""
    if not text:
        return ":gray[This document was replaced by a newer ingest; reload the page to read the current version.]"
    start, end = max(0, span.start - radius), min(len(text), span.end + radius)
    # Cut the context at whitespace so no half word leads or trails.
    while start > 0 and not text[start - 1].isspace() and span.start - start < radius + 40:
        start -= 1
    clause = text[span.start:span.end]
    mask = [False] * len(clause)
    q = " ".join(quote.split())
    flat = " ".join(clause.split())
    if q and q in flat:
        # Map the quote found in whitespace-collapsed text back onto the clause's characters.
        idx, k, positions = flat.index(q), 0, []
        for i, ch in enumerate(clause):
            if ch.isspace() and (i == 0 or clause[i - 1].isspace()):
                continue
            positions.append(i)
            k += 1
        for p in positions[idx:idx + len(q)]:
            mask[p] = True
    before = md_paragraphs(text[start:span.start])
    after = md_paragraphs(text[span.end:end])
    grey = lambda md: "\n\n".join(f":gray[{p}]" for p in md.split("\n\n") if p)  # noqa: E731
    body = highlight(clause, mask, colour="blue")
    pieces = [":gray[…]" if start > 0 else "", grey(before), f"**▶** {body}", grey(after), ":gray[…]" if end < len(text) else ""]
    return "\n\n".join(p for p in pieces if p)


def document_rows(documents: dict[str, DocumentVersion], clause_counts: dict[str, int]) -> list[dict]:
    """Rows of the Library table, newest ingest first; all cells plain strings or numbers (rendered as text)."""
    rows = [
        {
            # The columns the issue names first, so they are in view without scrolling the grid.
            "Title": d.title, "Kind": d.kind.value, "Jurisdiction": d.jurisdiction or "–", "Language": d.language,
            "Effective": d.effective_from.isoformat() if d.effective_from else "–", "Pages": d.pages,
            "Clauses": clause_counts.get(d.version_id, 0), "Ingested": d.ingested_at.replace("T", " ")[:16],
            "Status": d.status.value.replace("_", " "), "Document": d.doc_id, "Version": d.version_id,
            "File": d.source_path.rsplit("/", 1)[-1],
        }
        for d in documents.values()
    ]
    return sorted(rows, key=lambda r: (r["Ingested"], r["Title"]), reverse=True)


def clause_label(clause: Clause, width: int = 60) -> str:
    """A line of the clause tree: indented by depth, its last path element, and the opening words, short enough
    (width characters, less for deeper clauses) to stay on one line beside the clause text."""
    depth = max(len(clause.path) - 1, 0)
    head = clause.path[-1] if clause.path else clause.reference
    part = f" (part {clause.part})" if clause.part else ""
    words = " ".join(clause.text.split())
    if words.startswith(head):
        words = words[len(head):].lstrip(" .:—-")
    room = max(width - 3 * depth - len(head) - len(part), 20)
    if len(words) > room:
        cut = words[:room + 1]
        words = (cut.rsplit(" ", 1)[0] if " " in cut else cut[:room]).rstrip(" ,;:") + "…"  # at a word boundary
    return "\u2003" * depth + f"{head}{part}  {words}".rstrip()


def parent_of(clauses: list[Clause], clause: Clause) -> Clause | None:
    """The clause one step up the path in the same document (its first part), e.g. the lead-in of a list item."""
    if len(clause.path) < 2:
        return None
    return next((c for c in clauses if c.version_id == clause.version_id and c.path == clause.path[:-1]), None)


def sections_of(clauses: list[Clause]) -> dict[str, list[Clause]]:
    """Clauses grouped by their top path element, in document order."""
    out: dict[str, list[Clause]] = {}
    for c in sorted(clauses, key=lambda c: (c.ordinal, c.part)):
        out.setdefault(c.path[0] if c.path else "(document)", []).append(c)
    return out
