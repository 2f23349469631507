"""How `regcite review decide` flags become rulings: S:M slots, reasons, and corrections named by id or reference."""
from __future__ import annotations

# The values of rag.records.reviews.Reason, named here so --help imports no layer (a test holds them equal).
REASONS = ("wrong_clause", "does_not_support", "outdated_version", "other")
SLOT = "S:M"  # sentence number (1-based) and marker number: 2:1 is marker [1] of sentence 2


def rulings(args, answer, settings, day) -> list:
    """One CitationDecision per citation the flags rule on; the core refuses a decision that leaves one out."""
    from rag.records.reviews import Action, CitationDecision, Correction, Reason, citation_slots

    slots = {(s, m): clause_id for s, m, clause_id in citation_slots(answer)}
    chosen: dict[tuple[int, str], tuple] = {}

    def rule(text: str, flag: str, *ruling) -> None:
        key = slot(text, flag, slots)
        if key in chosen:
            from rag.errors import ReviewError

            raise ReviewError(f"{flag} {text}: citation {slot_name(*key)} is ruled on twice")
        chosen[key] = ruling

    for text in args.accept:
        rule(text, "--accept", Action.ACCEPT, None, None)
    for text in args.reject:
        where, _, reason = text.rpartition(":")
        if reason not in REASONS:
            from rag.errors import ReviewError

            raise ReviewError(f"--reject {text}: give {SLOT}:REASON, the reason one of {', '.join(REASONS)}")
        rule(where, "--reject", Action.REJECT, Reason(reason), None)
    if args.correct:
        from rag.store import open_index

        index = open_index(settings)  # IndexMissing says how to start
        for text in args.correct:
            where, _, target = text.partition("=")
            clause = clause_named(index, target, day)
            rule(where, "--correct", Action.CORRECT, None, Correction.of(clause, index.document_of(clause)))
    if args.accept_all:
        for key in slots:
            chosen.setdefault(key, (Action.ACCEPT, None, None))
    comments = {}
    for text in args.comment_on:
        where, _, comment = text.partition("=")
        comments[slot(where, "--comment-on", slots)] = comment
    return [CitationDecision(s, m, slots[(s, m)], *chosen[(s, m)], comment=comments.get((s, m), ""))
            for (s, m) in slots if (s, m) in chosen]


def slot(text: str, flag: str, slots: dict) -> tuple[int, str]:
    """"2:1" as (1, "[1]"): sentence index (0-based) and marker, checked against the answer's citations."""
    from rag.errors import ReviewError

    sentence, _, marker = text.strip().partition(":")
    if not (sentence.isdigit() and marker.isdigit()):
        raise ReviewError(f"{flag} {text!r}: a citation is {SLOT}, e.g. 2:1 for marker [1] of sentence 2")
    key = (int(sentence) - 1, f"[{int(marker)}]")
    if key not in slots:
        known = ", ".join(slot_name(*k) for k in slots) or "none"
        raise ReviewError(f"{flag} {text}: sentence {sentence} has no citation [{int(marker)}]; the answer's "
                          f"citations: {known}")
    return key


def slot_name(sentence: int, marker: str) -> str:
    return f"{sentence + 1}:{marker.strip('[]')}"


def clause_named(index, target: str, day):
    """The clause a correction names: a clause id, else the one clause with that reference in a version that
    answers on `day` (the answer's date), so a reference never silently picks another version."""
    from rag.errors import ReviewError

    target = target.strip()
    try:
        return index.clause(target)
    except KeyError:
        pass
    wanted = " ".join(target.split()).casefold()
    named = [c for c in index.clauses if " ".join(c.reference.split()).casefold() == wanted]
    if not named:
        raise ReviewError(f"no clause id or reference {target!r} in the index; `regcite review search QUERY` "
                          "prints clause ids and references")
    answering = [c for c in named if index.document_of(c).answers_on(day)]
    listed = "; ".join(f"{c.clause_id} ({index.document_of(c).title}, effective "
                       f"{index.document_of(c).effective_from or 'unknown'})" for c in (answering or named))
    if not answering:
        raise ReviewError(f"{target!r} is in no version in force on {day}; name one by clause id: {listed}")
    if len(answering) > 1:
        raise ReviewError(f"{target!r} names {len(answering)} clauses in force on {day}; name one by clause id: "
                          f"{listed}")
    return answering[0]
