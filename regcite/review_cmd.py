"""`regcite review list|show|decide|search|export-set|stats`: reviewers rule on every citation of recorded answers."""
from __future__ import annotations

import json
import sys
from pathlib import Path

# The values of rag.records.reviews' enums, named here so --help imports no layer (a test holds them equal).
STATES = ("pending", "second_review", "disputed", "approved", "approved_with_corrections", "rejected")
OUTCOMES = ("approved", "approved_with_corrections", "rejected")
from regcite.review_rulings import REASONS, SLOT, slot_name  # the flags name them


def add_arguments(name: str, parser) -> None:
    sub = parser.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="answers waiting for review (oldest first), with claims and stale flags")
    listing.add_argument("--doc", metavar="DOC_ID", help="answers citing (or, abstaining, retrieving from) it")
    listing.add_argument("--asker", metavar="NAME", help="answers this user asked")
    listing.add_argument("--since", metavar="DATE", help="asked on or after this day or UTC time")
    listing.add_argument("--until", metavar="DATE", help="asked on or before this day (all of it) or UTC time")
    listing.add_argument("--backend", metavar="B", help="answered by this backend: extractive, openai, transformers")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--state", nargs="+", choices=STATES, help="these states (default: the open ones)")
    which.add_argument("--all", action="store_true", help="answers in every state")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = sub.add_parser("show", help="an answer's sentences and citations as recorded, what changed since, and its "
                                       "decisions; claims it for you")
    show.add_argument("answer_id", metavar="ANSWER_ID", help="the id, or a unique start of it")
    show.add_argument("--no-claim", action="store_true", help="only look: leave the answer free for others")
    show.add_argument("--json", action="store_true", help="print JSON")

    decide = sub.add_parser("decide", help=f"rule on every citation ({SLOT}: 2:1 is marker [1] of sentence 2) and "
                                           "record the outcome")
    decide.add_argument("answer_id", metavar="ANSWER_ID", help="the id, or a unique start of it")
    decide.add_argument("--outcome", required=True, choices=OUTCOMES)
    decide.add_argument("--accept-all", action="store_true", help="accept every citation not ruled on otherwise")
    decide.add_argument("--accept", action="append", default=[], metavar=SLOT, help="accept a citation")
    decide.add_argument("--reject", action="append", default=[], metavar=f"{SLOT}:REASON",
                        help=f"reject a citation for a reason: {', '.join(REASONS)}")
    decide.add_argument("--correct", action="append", default=[], metavar=f"{SLOT}=CLAUSE",
                        help="the right clause instead: a clause id, or a reference resolved among the versions in "
                             "force on the answer's date (`regcite review search` finds them)")
    decide.add_argument("--comment-on", action="append", default=[], metavar=f"{SLOT}=TEXT",
                        help="a comment on one citation")
    decide.add_argument("--comment", default="", help="a comment on the whole answer")
    decide.add_argument("--json", action="store_true", help="print the decision as JSON")

    search = sub.add_parser("search", help="clause ids and references matching a query, to name a correction")
    search.add_argument("query")
    search.add_argument("--as-of", metavar="DATE", help="among the versions in force that day (default: today)")
    search.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
    search.add_argument("-k", type=int, default=None, help="how many clauses (default: settings.top_k)")

    export = sub.add_parser("export-set", help="reviewed answers as a question set (`regcite eval run` reads it); "
                                               "the accepted and corrected clauses are the gold")
    export.add_argument("--out", required=True, metavar="FILE.jsonl")
    stats = sub.add_parser("stats", help="citation acceptance per document, backend and model; reasons, outcomes "
                                         "and two-reviewer agreement")
    stats.add_argument("--json", action="store_true", help="print JSON")


def run(name: str, args, settings) -> int:
    if args.review_command == "search":  # reads only the index, as `regcite search` does
        return _search(args, settings)
    from rag.records.users import require_reviewer
    from regcite.acting import acting_user, record_book

    with record_book(settings) as book:
        reviewer = acting_user(args, settings, book)
        require_reviewer(reviewer)
        action = {"list": _list, "show": _show, "decide": _decide, "export-set": _export_set, "stats": _stats}
        return action[args.review_command](args, settings, book, reviewer)


def _list(args, settings, book, reviewer) -> int:
    from rag.records.answers import load_answer
    from rag.records.queue import QueueFilter, list_answers, readable_by, reader_documents
    from rag.records.reviews import State
    from rag.records.stale import first_stale

    states = () if args.all else tuple(State(s) for s in args.state) if args.state else QueueFilter().states
    where = QueueFilter(doc_id=args.doc or "", asker=args.asker or "", backend=args.backend or "", states=states,
                        since=moment(args.since, "--since"), until=moment(args.until, "--until"))
    index = current_index(settings)
    readable = reader_documents(book, reviewer, index)  # answers drawn wholly from the reviewer's collections
    rows = []
    for item in list_answers(book, where):
        if not readable_by(load_answer(book, item.answer_id), readable):
            continue
        stale = first_stale(index, load_answer(book, item.answer_id)) if index is not None else None
        rows.append({"answer_id": item.answer_id, "seq": item.seq, "asked_at": item.asked_at, "user": item.user,
                     "question": item.question, "backend": item.backend, "model": item.model,
                     "doc_ids": list(item.doc_ids), "abstained": item.abstained, "state": item.state.value,
                     "claimed_by": item.claimed_by or None, "claimed_until": item.claimed_until or None,
                     "stale": str(stale) if stale else None})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        flags = [f"claimed by {r['claimed_by']} until {r['claimed_until'][:16]}"] if r["claimed_by"] else []
        flags += ["abstained"] * r["abstained"] + [r["stale"]] * bool(r["stale"])
        print(f"{r['answer_id']}  {r['asked_at'][:16]}  {r['user']}  {r['state']}  {r['backend']}  "
              f"{', '.join(r['doc_ids']) or '-'}" + (f"  [{'; '.join(flags)}]" if flags else ""))
        print(f"    {_cut(r['question'], 110)}")
    print(f"{len(rows)} answer(s)" + ("" if index is not None else "; no index yet, so no stale flags"))
    return 0


def _show(args, settings, book, reviewer) -> int:
    from rag.errors import ReviewError
    from rag.records.answers import load_answer
    from rag.records.chain import holds, load_record
    from rag.records.queue import check_readable
    from rag.records.reviews import claim, claim_of, decisions_of, state_of
    from rag.records.stale import stale_citations
    from rag.serialize import filters_to_dict

    answer = load_answer(book, answer_id_of(book, args.answer_id))
    check_readable(book, reviewer, answer, current_index(settings))
    decisions = decisions_of(book, answer.answer_id)
    state = state_of(decisions, book.reviews_required)
    if not args.no_claim and state.open:
        try:
            claim(book, reviewer, answer.answer_id)
        except ReviewError as e:  # someone else has it: still worth reading
            print(f"regcite: not claimed: {e}", file=sys.stderr)
    held = claim_of(book, answer.answer_id)
    index = current_index(settings)
    stale = stale_citations(index, answer) if index is not None else {}
    view = {
        "answer_id": answer.answer_id, "seq": answer.seq, "asked_at": answer.asked_at, "user": answer.user,
        "entry": answer.entry, "question": answer.question, "filters": filters_to_dict(answer.filters),
        "backend": answer.backend, "model": answer.model, "index_generation": answer.generation,
        "text": answer.text, "abstained": answer.abstained, "state": state.value,
        "intact": holds(load_record(book.db, record_id=answer.answer_id)),
        "claimed_by": held.reviewer if held else None, "claimed_until": held.until if held else None,
        "sentences": [{"number": i, "text": s.text, "verdict": s.verdict.value, "problems": list(s.problems),
                       "citations": [_citation_view(i, c, answer, stale) for c in s.citations]}
                      for i, s in enumerate(answer.sentences, 1)],
        "decisions": [_decision_view(d) for d in decisions],
    }
    if args.json:
        print(json.dumps(view, ensure_ascii=False, indent=2))
        return 0
    edited = "" if view["intact"] else ", EDITED: run regcite audit verify"
    print(f"answer {answer.answer_id} (record {answer.seq}{edited})")
    print(f"asked by {answer.user} at {answer.asked_at} ({answer.entry}); {view['state']}"
          + (f"; claimed by {held.reviewer} until {held.until}" if held else ""))
    as_of = answer.filters.as_of.isoformat() if answer.filters.as_of else "every version"
    print(f"as of {as_of}; backend {answer.backend}, model {answer.model or '-'}; index generation {answer.generation}")
    print(f"question: {answer.question}\n\n{answer.text}\n")
    for s in view["sentences"]:
        print(f"sentence {s['number']} [{s['verdict']}]: {s['text']}")
        for c in s["citations"]:
            print(f"  {c['slot']}  {c['marker']} {c['reference']}, {c['pages']} — {c['document_title']} "
                  f"({c['verdict']}, {c['score']:.2f})")
            print(f"        clause {c['clause_id']} of version {c['version_id']}, as recorded:")
            print(f"        \"{' '.join(c['recorded_text'].split())}\"")
            print(f"        changed since: {c['stale'] or 'no'}")
        for p in s["problems"]:
            print(f"  ! {p}")
    print("decisions:" if decisions else "no decisions yet")
    for d in view["decisions"]:
        print(f"  {d['decided_at'][:19]} {d['reviewer']}: {d['outcome']}"
              + (f" — {d['comment']}" if d["comment"] else ""))
        for r in d["citations"]:
            why = r["reason"] or (f"-> {r['correction']['reference']} ({r['correction']['clause_id']})"
                                  if r["correction"] else "")
            print(f"    {r['slot']} {r['action']} {why}".rstrip() + (f" — {r['comment']}" if r["comment"] else ""))
    return 0


def _citation_view(number: int, c, answer, stale: dict) -> dict:
    cited = answer.cited_clause(c.clause_id)
    return {"slot": slot_name(number - 1, c.marker), "marker": c.marker, "clause_id": c.clause_id,
            "reference": c.reference, "document_title": c.document_title, "version_id": c.version_id,
            "pages": str(c.page_span), "verdict": c.verdict.value, "score": round(float(c.score), 4),
            "recorded_text": cited.text if cited else "",
            "stale": str(stale[c.clause_id]) if c.clause_id in stale else None}


def _decision_view(d) -> dict:
    from dataclasses import asdict

    return {"decision_id": d.decision_id, "reviewer": d.reviewer, "decided_at": d.decided_at,
            "outcome": d.outcome.value, "comment": d.comment,
            "citations": [{"slot": slot_name(r.sentence, r.marker), "clause_id": r.clause_id, "action": r.action.value,
                           "reason": r.reason.value if r.reason else None, "comment": r.comment,
                           "correction": asdict(r.correction) if r.correction else None} for r in d.citations]}


def _decide(args, settings, book, reviewer) -> int:
    from rag.records.answers import load_answer
    from rag.records.queue import check_readable
    from rag.records.reviews import Outcome, decide, decisions_of, state_of

    answer = load_answer(book, answer_id_of(book, args.answer_id))
    check_readable(book, reviewer, answer, current_index(settings))
    from regcite.review_rulings import rulings

    day = answer.filters.as_of or _day(answer.asked_at[:10])
    decision = decide(book, reviewer, answer.answer_id, Outcome(args.outcome), rulings(args, answer, settings, day),
                      args.comment)
    state = state_of(decisions_of(book, answer.answer_id), book.reviews_required)
    if args.json:
        print(json.dumps(_decision_view(decision) | {"answer_id": answer.answer_id, "state": state.value},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"recorded decision {decision.decision_id}: {decision.outcome.value} on answer {answer.answer_id} "
          f"by {decision.reviewer}; the answer is now {state.value}")
    return 0


def current_index(settings):
    """The committed index, or None before the first ingest (then nothing can be stale)."""
    from rag.errors import IndexMissing
    from rag.store import open_index

    try:
        return open_index(settings)
    except IndexMissing:
        return None


def answer_id_of(book, given: str) -> str:
    """The full id of a recorded answer from its id or a unique start of it."""
    from rag.errors import ReviewError
    from rag.records.queue import QueueFilter, list_answers

    given = given.strip()
    if len(given) == 36:
        return given
    found = [i.answer_id for i in list_answers(book, QueueFilter(states=(), limit=1_000_000))
             if i.answer_id.startswith(given)]
    if len(found) != 1:
        raise ReviewError(f"{len(found) or 'no'} recorded answer(s) start with {given!r}"
                          + ("; give more of the id" if found else "; `regcite review list --all` shows them"))
    return found[0]


def moment(text: str | None, flag: str) -> str:
    """A day (YYYY-MM-DD, kept as is: the queue takes in a bare day whole) or a time, as UTC text that compares
    with the records' times; "" when not given."""
    from datetime import datetime, timezone

    from rag.errors import ConfigError

    if not text:
        return ""
    try:
        if len(text) == 10:
            return _day(text).isoformat()
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a day (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
                          ) from None
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(text: str):
    from datetime import date

    return date.fromisoformat(text)


def _search(args, settings) -> int:
    from rag.pipeline import open_pipeline
    from rag.types import Filters
    from regcite.ask_cmd import as_of_date, reader_access

    filters = reader_access(args, settings).filters(Filters(doc_ids=tuple(args.doc), as_of=as_of_date(args.as_of)))
    hits = open_pipeline(settings).search(args.query, filters, args.k)
    for h in hits:
        d = h.document
        print(f"{h.clause.clause_id}  {h.clause.reference}  ({d.title}, {h.clause.page_span}; effective "
              f"{d.effective_from or 'unknown'}{' to ' + str(d.effective_to) if d.effective_to else ''})")
        print(f"    {_cut(h.clause.text, 150)}")
    if not hits:
        print("no matching clauses")
    return 0


def _export_set(args, settings, book, reviewer) -> int:
    from rag.records.review_sets import review_set_rows

    rows = review_set_rows(book)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} reviewed question(s) to {out}")
    return 0


def _stats(args, settings, book, reviewer) -> int:
    from rag.records.review_sets import review_stats

    s = review_stats(book)
    rates = {name: {k: {"accepted": r.accepted, "total": r.total, "share": round(r.share, 4)} for k, r in table.items()}
             for name, table in (("by_document", s.by_document), ("by_backend", s.by_backend),
                                 ("by_model", s.by_model))}
    a = s.agreement
    agreement = {"answers": a.answers, "citations": a.citations, "agreed_share": round(a.agreed_share, 4),
                 "kappa": None if a.kappa is None else round(a.kappa, 4)}
    if args.json:
        print(json.dumps({"decisions": s.decisions, **rates, "reasons": s.reasons, "outcomes": s.outcomes,
                          "agreement": agreement}, ensure_ascii=False, indent=2))
        return 0
    print(f"{s.decisions} decision(s): " + (", ".join(f"{k} {v}" for k, v in s.outcomes.items()) or "none yet"))
    for name, table in rates.items():
        print(f"citations accepted {name.replace('_', ' ')}:")
        for key, r in table.items():
            print(f"  {key}: {r['accepted']}/{r['total']} ({r['share']:.0%})")
    print("rejections: " + (", ".join(f"{k} {v}" for k, v in s.reasons.items()) or "none"))
    kappa = "undefined" if a.kappa is None else f"{a.kappa:.2f}"
    print(f"agreement: {a.answers} answer(s) reviewed twice, {a.citations} citation(s) both ruled on, "
          f"{a.agreed_share:.0%} agreed, Cohen's kappa {kappa}")
    return 0


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
