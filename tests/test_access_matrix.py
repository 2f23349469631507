"""The access matrix (issue 14): for every entry point, ann (who may read collection A only) asks a question that
names a clause of B exactly and one that quotes B's text; nothing of B comes back: no clause, title, reference,
date, version or count, and nothing of it in what the model was sent. ada (an admin) asking the same gets B, so
each row of the matrix is a check that could fail. The app's rows are in tests/ui/test_access_app.py (AppTest)
and tests/ui/test_access_e2e.py (a real browser)."""
from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from datetime import date

import pytest

from rag.config import load_settings
from tests.access_fixtures import (NAMED, PASSWORD, PUBLIC, QUESTIONS, QUOTED, SUPERVISORY, build_two_collections,
                                   leaks)
from tests.fakes import HashEmbedder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("access")
    settings = load_settings(env={}, overrides={"data_dir": root / "data",
                                                "audit_key_file": str(root / "keys" / "audit.key")})
    return build_two_collections(settings, root / "files")


@dataclass
class Recorder:
    """Every backend the pipelines build answers from a script and keeps each prompt it was sent."""

    backends: list = field(default_factory=list)

    def make(self, settings, embedder=None):
        from rag.llm.scripted import ScriptedBackend

        backend = ScriptedBackend(("The clause answers this [1].",))
        self.backends.append(backend)
        return backend

    @property
    def prompts(self) -> str:
        return "\n".join(m.content for b in self.backends for prompt in b.prompts for m in prompt)


@pytest.fixture
def recorder(world, monkeypatch):
    """The stand-in embedder and the recording backend wherever a pipeline is opened; the CLI's environment."""
    import rag.pipeline

    made = Recorder()
    monkeypatch.setattr(rag.pipeline, "load_embedder", lambda settings: HashEmbedder(64))
    monkeypatch.setattr(rag.pipeline, "make_backend", made.make)
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", str(world.settings.audit_key_path))
    for key in ("REGCITE_CONFIG", "REGCITE_LLM_BACKEND", "REGCITE_USER"):
        monkeypatch.delenv(key, raising=False)
    return made


def cli(world, monkeypatch, capsys, user: str, *argv: str) -> tuple[int, str]:
    from regcite.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv("REGCITE_PASSWORD", PASSWORD)
    code = main(["--data-dir", str(world.settings.data_dir), "--user", user, *argv])
    out, err = capsys.readouterr()
    return code, out + "\n" + err


def without(text: str, *typed: str) -> str:
    """The output less what the caller typed themselves (a doc id, a gold reference), which it may echo."""
    for t in typed:
        text = text.replace(t, "")
    return text


def _user(world, name: str):
    from rag.records.book import open_book
    from rag.records.users import list_users

    book = open_book(world.settings)
    return book, next(u for u in list_users(book) if u.name == name)


def _pipeline(world, recorder, **settings):
    from rag.pipeline import open_pipeline

    return open_pipeline(world.settings.replace(**settings), embedder=HashEmbedder(64),
                         backend=recorder.make(world.settings))


# Each entry point: (world, user name, question, recorder, monkeypatch, capsys) -> everything it returned, as text.

def answer_recorded(world, name, question, recorder, monkeypatch, capsys) -> str:
    """rag.records.answers.ask_and_record: what the app and every later front answer through."""
    from rag.records.answers import ask_and_record
    from rag.types import Filters

    book, user = _user(world, name)
    try:
        record = ask_and_record(_pipeline(world, recorder), book, user, question, Filters(as_of=date.today()),
                                entry="api")
    finally:
        book.db.dispose()
    return repr(record)


def answer_as_of_long_ago(world, name, question, recorder, monkeypatch, capsys) -> str:
    """An abstention and its notes: which instruments have no version in force, and the closest clause."""
    from rag.access import reader_filters
    from rag.serialize import answer_to_dict
    from rag.types import Filters

    book, user = _user(world, name)
    try:
        filters = reader_filters(book, user, Filters(as_of=date(2000, 1, 1)))
    finally:
        book.db.dispose()
    return json.dumps(answer_to_dict(_pipeline(world, recorder).answer(question, filters)), ensure_ascii=False)


def _search(mode: dict):
    def search(world, name, question, recorder, monkeypatch, capsys) -> str:
        from rag.access import reader_filters
        from rag.types import Filters

        book, user = _user(world, name)
        try:
            filters = reader_filters(book, user, Filters(as_of=date.today()))
        finally:
            book.db.dispose()
        pipeline = _pipeline(world, recorder, **mode)
        hits = pipeline.search(question, filters, 10)
        named = pipeline.retriever.named_clauses(question, pipeline.retriever.allowed(filters), 10)
        return repr(hits) + repr([pipeline.index.clauses[p] for p, _ in named]) + repr(
            pipeline.retriever.admitted_doc_ids(filters))
    return search


def cli_ask(world, name, question, recorder, monkeypatch, capsys) -> str:
    code, out = cli(world, monkeypatch, capsys, name, "ask", question, "--json")
    assert code == 0, out
    return out


def cli_ask_naming_b(world, name, question, recorder, monkeypatch, capsys) -> str:
    code, out = cli(world, monkeypatch, capsys, name, "ask", question, "--doc", "Part 7731")
    assert code == 0, out
    return without(out, "Part 7731")


def cli_search(world, name, question, recorder, monkeypatch, capsys) -> str:
    code, out = cli(world, monkeypatch, capsys, name, "search", question, "--json", "-k", "10")
    assert code == 0, out
    return out


def cli_search_doc_b(world, name, question, recorder, monkeypatch, capsys) -> str:
    return without(cli(world, monkeypatch, capsys, name, "search", question, "--doc", "Part 7731")[1], "Part 7731")


def cli_docs(world, name, question, recorder, monkeypatch, capsys) -> str:
    code, out = cli(world, monkeypatch, capsys, name, "docs", "--json")
    assert code == 0, out
    return out + without(cli(world, monkeypatch, capsys, name, "docs", "Part 7731")[1], "Part 7731")


def cli_diff(world, name, question, recorder, monkeypatch, capsys) -> str:
    return (cli(world, monkeypatch, capsys, name, "diff", "Part 950", "--json")[1]
            + without(cli(world, monkeypatch, capsys, name, "diff", "Part 7731")[1], "Part 7731"))


GOLD = "§ 7731.4(a)"  # the set's own gold, which a run's rows and the check repeat


def _question_set(world, question: str):
    path = world.files.parent / f"set-{abs(hash(question))}.jsonl"
    path.write_text(json.dumps({"id": "q1", "question": question, "gold": [GOLD]}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def cli_eval_run(world, name, question, recorder, monkeypatch, capsys) -> str:
    out_dir = world.files.parent / f"run-{name}-{abs(hash(question))}"
    code, out = cli(world, monkeypatch, capsys, name, "eval", "run", str(_question_set(world, question)),
                    "--out", str(out_dir), "--no-progress")
    assert code == 0, out
    return without(out + (out_dir / "results.jsonl").read_text(encoding="utf-8"), GOLD, json.dumps(GOLD))


def cli_eval_check(world, name, question, recorder, monkeypatch, capsys) -> str:
    out = cli(world, monkeypatch, capsys, name, "eval", "check", str(_question_set(world, question)))[1]
    return without(out, GOLD)


def llamaindex_retriever(world, name, question, recorder, monkeypatch, capsys) -> str:
    from rag.access import access_for
    from rag.llamaindex import RegciteRetriever

    book, user = _user(world, name)
    try:
        access = access_for(book, user)
    finally:
        book.db.dispose()
    nodes = RegciteRetriever(_pipeline(world, recorder).retriever, k=10, access=access).retrieve(question)
    return repr([(n.node.text, n.node.metadata) for n in nodes])


def llamaindex_query_engine(world, name, question, recorder, monkeypatch, capsys) -> str:
    from rag.access import access_for
    from rag.llamaindex import RegciteQueryEngine

    book, user = _user(world, name)
    try:
        access = access_for(book, user)
    finally:
        book.db.dispose()
    response = RegciteQueryEngine(_pipeline(world, recorder), access=access).query(question)
    return response.response + repr([(n.node.text, n.node.metadata) for n in response.source_nodes])


def review_queue(world, name, question, recorder, monkeypatch, capsys) -> str:
    """ada's answers from B in the queue, as a reviewer of A only (rex) or ada herself lists them."""
    from rag.access import access_for
    from rag.records.answers import ask_and_record, load_answer
    from rag.records.queue import QueueFilter, list_answers, readable_by
    from rag.store import open_index
    from rag.types import Filters

    from rag.pipeline import open_pipeline

    book, ada = _user(world, "ada")
    try:
        # ada's own question, answered apart from the recorder: what she was sent is hers to see
        apart = open_pipeline(world.settings, embedder=HashEmbedder(64), backend=Recorder().make(world.settings))
        ask_and_record(apart, book, ada, question, Filters(as_of=date.today()), entry="api")
        reach = access_for(book, ada if name == "ada" else _user(world, "rex")[1])
        shown = None if reach.everything else reach.view(open_index(world.settings)).documents
        items = [i for i in list_answers(book, QueueFilter(states=())) if readable_by(load_answer(book, i.answer_id),
                                                                                       shown)]
        # less the doc id ann typed as a filter herself (`ask --doc`), which her record keeps
        return without(repr([load_answer(book, i.answer_id) for i in items]), "Part 7731")
    finally:
        book.db.dispose()


def _reviewer(name: str) -> str:
    return "rex" if name == "ann" else name  # rex reviews A only, as ann reads it


def _ada_answer_from_b(world, question: str) -> str:
    from rag.pipeline import open_pipeline
    from rag.records.answers import ask_and_record
    from rag.types import Filters

    book, ada = _user(world, "ada")
    try:
        apart = open_pipeline(world.settings, embedder=HashEmbedder(64), backend=Recorder().make(world.settings))
        return ask_and_record(apart, book, ada, question, Filters(as_of=date.today()), entry="api").answer_id
    finally:
        book.db.dispose()


def cli_review(world, name, question, recorder, monkeypatch, capsys) -> str:
    """`regcite review list|show|decide|search` as a reviewer: ada's answer from B is not there for rex."""
    answer_id = _ada_answer_from_b(world, question)
    who = _reviewer(name)
    listed = cli(world, monkeypatch, capsys, who, "review", "list", "--all", "--json")
    shown = cli(world, monkeypatch, capsys, who, "review", "show", answer_id, "--no-claim")
    decided = cli(world, monkeypatch, capsys, who, "review", "decide", answer_id, "--outcome", "rejected")
    found = cli(world, monkeypatch, capsys, who, "review", "search", question, "-k", "10")
    assert listed[0] == 0 and found[0] == 0
    if who == "rex":
        assert shown[0] != 0 and decided[0] != 0 and "no recorded answer" in shown[1] + decided[1]
    return without("".join(out for _, out in (listed, shown, decided, found)), "Part 7731")


ENTRY_POINTS = {
    "answer, recorded": answer_recorded,
    "answer as of 2000 (abstention, notes)": answer_as_of_long_ago,
    "search, hybrid rrf": _search({"fusion": "rrf"}),
    "search, dense only": _search({"fusion": "weighted", "dense_weight": 1.0}),
    "search, BM25 only": _search({"fusion": "weighted", "dense_weight": 0.0}),
    "regcite ask --json": cli_ask,
    "regcite ask --doc <B>": cli_ask_naming_b,
    "regcite search": cli_search,
    "regcite search --doc <B>": cli_search_doc_b,
    "regcite docs": cli_docs,
    "regcite diff": cli_diff,
    "regcite eval run": cli_eval_run,
    "regcite eval check": cli_eval_check,
    "LlamaIndex retriever": llamaindex_retriever,
    "LlamaIndex query engine": llamaindex_query_engine,
    "review queue": review_queue,
    "regcite review list|show|decide|search": cli_review,
}
# Where the admin is shown nothing of B either, whatever the question: no positive control there.
NOTHING_OF_B_FOR_ANYONE = {"answer as of 2000 (abstention, notes)", "regcite eval check"}


@pytest.mark.parametrize("question", QUESTIONS, ids=["names a clause of B", "quotes B"])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_reader_of_a_gets_nothing_of_b_from_any_entry_point(world, recorder, monkeypatch, capsys, entry, question):
    seen = ENTRY_POINTS[entry](world, "ann", question, recorder, monkeypatch, capsys)
    assert not leaks(seen, question, world.b_versions), leaks(seen, question, world.b_versions)
    assert not leaks(recorder.prompts, question, world.b_versions), "a clause of B reached a prompt"


@pytest.mark.parametrize("question", QUESTIONS, ids=["names a clause of B", "quotes B"])
@pytest.mark.parametrize("entry", [e for e in ENTRY_POINTS if e not in NOTHING_OF_B_FOR_ANYONE])
def test_an_admin_asking_the_same_gets_b_so_each_check_can_fail(world, recorder, monkeypatch, capsys, entry,
                                                                 question):
    seen = ENTRY_POINTS[entry](world, "ada", question, recorder, monkeypatch, capsys)
    assert leaks(seen + recorder.prompts, question, world.b_versions)


def test_eval_check_reports_gold_in_a_hidden_collection_as_missing(world, recorder, monkeypatch, capsys):
    question_set = str(_question_set(world, NAMED))
    code, out = cli(world, monkeypatch, capsys, "ann", "eval", "check", question_set)
    assert code == 1 and f"q1: {GOLD}" in out and "missing from the index" in out
    code, out = cli(world, monkeypatch, capsys, "ada", "eval", "check", question_set)
    assert code == 0 and "every gold reference is in the index" in out


def test_the_abstention_counts_only_what_the_reader_may_search(world, recorder):
    from rag.access import reader_filters
    from rag.types import Filters

    pipeline = _pipeline(world, recorder)
    asked = "What is the capital requirement for a swap dealer?"
    texts = {}
    for name in ("ann", "ada"):
        book, user = _user(world, name)
        try:
            texts[name] = pipeline.answer(asked, reader_filters(book, user, Filters(as_of=date.today()))).text
        finally:
            book.db.dispose()
    assert "Searched 2 documents (Part 900, Part 950)" in texts["ann"]
    assert "Searched 3 documents (Part 7731, Part 900, Part 950)" in texts["ada"]


def test_a_version_in_a_hidden_collection_neither_supersedes_nor_dates_a_readable_one(world, recorder):
    from rag.access import access_for, reader_filters
    from rag.store import open_index
    from rag.types import Filters, Status
    from rag.versions import chain

    index = open_index(world.settings)
    book, ann = _user(world, "ann")
    try:
        view = access_for(book, ann).view(index)
        filters = reader_filters(book, ann, Filters(as_of=date.today()))
    finally:
        book.db.dispose()
    (only,) = chain(view.documents, "Part 950")
    assert (only.status, only.effective_to) == (Status.IN_FORCE, None)  # for the admin it is superseded in 2024
    assert [v.status for v in chain(index.documents, "Part 950")] == [Status.SUPERSEDED, Status.IN_FORCE]
    hits = _pipeline(world, recorder).search("How long must a lender retain each application record?", filters, 3)
    assert hits and hits[0].clause.reference == "§ 950.1(a)" and "25 months" in hits[0].clause.text
    assert hits[0].document.effective_to is None
    with pytest.raises(KeyError):
        view.text_of(next(iter(world.b_versions)))


def test_a_reader_without_grants_reads_nothing_and_a_grant_or_revoke_counts_at_once(world, recorder):
    from rag.access import reader_filters
    from rag.records.grants import grant, revoke
    from rag.records.users import Role, User, add_user
    from rag.types import Filters

    book, ada = _user(world, "ada")
    try:
        nobody = User("nora", Role.ASKER)
        add_user(book, nobody.name, nobody.role, PASSWORD, by=ada)
        pipeline = _pipeline(world, recorder)
        asked = "How long must a lender retain each application record?"
        assert reader_filters(book, nobody, Filters()).collections == frozenset()
        assert pipeline.search(asked, reader_filters(book, nobody, Filters())) == []
        assert "Searched 0 documents" in pipeline.answer(asked, reader_filters(book, nobody, Filters())).text
        grant(book, nobody.name, SUPERVISORY, ada)
        assert {h.document.collection for h in pipeline.search(asked, reader_filters(book, nobody, Filters()))} == {
            SUPERVISORY}
        revoke(book, nobody.name, SUPERVISORY, ada)
        assert pipeline.search(asked, reader_filters(book, nobody, Filters())) == []
    finally:
        book.db.dispose()


def test_filters_never_widen_what_a_reader_may_read():
    from rag.types import Filters

    narrowed = Filters(collections=frozenset({PUBLIC})).within(frozenset({PUBLIC, SUPERVISORY}))
    assert narrowed.collections == frozenset({PUBLIC})
    assert Filters().within(None) == Filters() and Filters().within(frozenset()).collections == frozenset()


def test_audit_exports_are_refused_to_non_admins(world, recorder, monkeypatch, capsys):
    code, out = cli(world, monkeypatch, capsys, "ann", "audit", "export")
    assert code != 0 and "only admins export records" in out
    assert not leaks(out, NAMED)
    code, out = cli(world, monkeypatch, capsys, "ada", "audit", "export")
    assert code == 0


def test_quoting_b_as_admin_finds_its_clause_by_bm25(world, recorder):
    """The quoted question is one BM25 finds for whoever may read B (the control of the row above)."""
    from rag.types import Filters

    hits = _pipeline(world, recorder, fusion="weighted", dense_weight=0.0).search(QUOTED, Filters(), 3)
    assert hits[0].clause.reference == "§ 7731.4(a)"


def test_a_readers_bm25_scores_owe_nothing_to_clauses_they_may_not_read(world, recorder, tmp_path):
    """The same question over A alone (a store that never held B) and over A beside B, as ann: the same clauses with
    the same lexical scores, though B shares words with A (its IDF would move them)."""
    if world.settings.index_backend == "milvus":
        pytest.skip("on Milvus one BM25 serves the whole collection: a restricted reader gets only their clauses "
                    "(the other tests here), scored with corpus-wide statistics (docs/SCALING.md, what differs)")
    from ingest.pipeline import ingest_paths
    from rag.access import reader_filters
    from rag.pipeline import open_pipeline
    from rag.types import Filters

    alone = world.settings.replace(data_dir=tmp_path / "alone")
    for name in ("part900_2022.md", "part950_2016.md"):
        ingest_paths([world.files / name], alone, progress=False, embedder=HashEmbedder(64), collection=PUBLIC)
    asked = "notice of action taken after receiving an application"
    book, ann = _user(world, "ann")
    try:
        filters = reader_filters(book, ann, Filters(as_of=date.today()))
    finally:
        book.db.dispose()
    bm25 = {"fusion": "weighted", "dense_weight": 0.0}
    beside = _pipeline(world, recorder, **bm25).search(asked, filters, 5)
    only_a = open_pipeline(alone.replace(**bm25), embedder=HashEmbedder(64), backend=recorder.make(alone)).search(
        asked, Filters(as_of=date.today()), 5)
    assert [(h.clause.reference, round(h.lexical_score, 9)) for h in beside] == [
        (h.clause.reference, round(h.lexical_score, 9)) for h in only_a]
    whole = _pipeline(world, recorder, **bm25).search(asked, Filters(as_of=date.today()).within(
        frozenset({PUBLIC, SUPERVISORY})), 5)
    assert {round(h.lexical_score, 9) for h in whole} != {round(h.lexical_score, 9) for h in only_a}
