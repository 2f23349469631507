"""Two collections for the access tests: public rules (A) and supervisory material (B), ingested by the real
pipeline; ann may read A only, ada is an admin. B's text, references, dates and names are distinctive, so any of
them in what ann is shown (or what a model is sent for her) is a leak."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tests.fakes import HashEmbedder
from tests.ui.conftest import PART_900_2022

PUBLIC, SUPERVISORY = "public", "supervisory"
PASSWORD = "correct horse battery"
PASSWORDS = {"ada": PASSWORD, "ann": PASSWORD, "rex": PASSWORD}

# B: a supervisory letter (its own instrument) and a later, not yet public, version of a public instrument.
LETTER = """# Supervisory Letter SL-2026-07: Remediation of the Zanzibar ledger

§ 7731.4 Remediation.

(a) The bank shall remediate the Zanzibar ledger exposure within 11 business days of this letter.

(b) The board shall certify the quarantine of account cluster Q-88 to the examiner in charge.
"""
PART_950_2016 = """# Part 950 - Sample Records

§ 950.1 Retention.

(a) A lender shall retain each application record for 25 months after notice of action taken.
"""
PART_950_2024 = """# Part 950 - Sample Records

§ 950.1 Retention.

(a) A lender shall retain each application record for 60 months in the Ouagadougou archive after notice of action.
"""
B_EFFECTIVE = date(2024, 3, 1)

NAMED = "What must the bank do under § 7731.4(a)?"  # names a clause of B exactly
QUOTED = "remediate the Zanzibar ledger exposure within 11 business days of this letter"  # quotes B's text
QUESTIONS = (NAMED, QUOTED)
# Of B, anything of which in ann's results is a leak (once the question's own words are taken out).
B_MARKERS = ("7731", "Zanzibar", "Supervisory Letter", "SL-2026", "Q-88", "quarantine", "Ouagadougou",
             "60 months", B_EFFECTIVE.isoformat(), "supervisory_letter", "part950_2024", SUPERVISORY)


@dataclass(frozen=True)
class TwoCollections:
    settings: object
    files: Path
    a_versions: frozenset[str]  # version ids of A
    b_versions: frozenset[str]  # version ids of B
    a_doc_ids: frozenset[str]


STAND_IN = object()  # build_two_collections' default embedder: HashEmbedder(64)


def build_two_collections(settings, files: Path, embedder=STAND_IN) -> TwoCollections:
    """Ingest A and B into settings' data dir and add ada (admin), ann (asker, A only) and rex (reviewer, A only,
    through a group). The stand-in embedder unless told otherwise (None: the configured one, for a served app)."""
    from ingest.pipeline import ingest_paths
    from rag.records.book import open_book
    from rag.records.grants import Grantee, add_member, grant
    from rag.records.users import LOCAL_USER, Role, add_user
    from rag.store import open_index

    if embedder is None:  # loaded once for the four files
        from rag.embed import load_embedder

        embedder = load_embedder(settings)
    files.mkdir(parents=True, exist_ok=True)
    runs = ((PUBLIC, "part900_2022.md", PART_900_2022, date(2022, 1, 1)),
            (PUBLIC, "part950_2016.md", PART_950_2016, date(2016, 7, 11)),
            (SUPERVISORY, "supervisory_letter.md", LETTER, None),
            (SUPERVISORY, "part950_2024.md", PART_950_2024, B_EFFECTIVE))
    for collection, name, text, day in runs:
        (files / name).write_text(text, encoding="utf-8")
        report = ingest_paths([files / name], settings, progress=False,
                              embedder=HashEmbedder(64) if embedder is STAND_IN else embedder,
                              effective_from=day, collection=collection)
        assert report.added == 1 and not report.skipped, report
    book = open_book(settings)
    try:
        ada = add_user(book, "ada", Role.ADMIN, PASSWORD, by=LOCAL_USER)
        add_user(book, "ann", Role.ASKER, PASSWORD, by=ada)
        add_user(book, "rex", Role.REVIEWER, PASSWORD, by=ada)
        grant(book, "ann", PUBLIC, ada)
        add_member(book, "examiners", "rex", ada)
        grant(book, "examiners", PUBLIC, ada, kind=Grantee.GROUP)
    finally:
        book.db.dispose()
    documents = open_index(settings).documents.values()
    a = frozenset(d.version_id for d in documents if d.collection == PUBLIC)
    b = frozenset(d.version_id for d in documents if d.collection == SUPERVISORY)
    return TwoCollections(settings, files, a, b, frozenset(d.doc_id for d in documents if d.collection == PUBLIC))


def leaks(text: str, question: str = "", versions: frozenset[str] = frozenset()) -> list[str]:
    """The markers of B in text, once the question (which names them itself) is taken out."""
    for q in (question, *QUESTIONS):
        if q:
            text = text.replace(q, "")
    return [m for m in (*B_MARKERS, *versions) if m in text]
