"""Regulation B in real versions (../shared/corpus): answers as of a date cite the version then in force, a clause
added later is absent before, a date before the first version says so; the chain is the same in any ingest order."""
from __future__ import annotations

import json
import random
from datetime import date

import pytest

from rag.config import load_settings
from rag.types import Filters, Status
from tests.conftest import shared_path
from tests.fakes import HashEmbedder

RETENTION = "How long must a creditor retain records of a consumer credit application after notifying the applicant?"
REG_B = ("versions/12cfr1002_2011-31714.html", "amendments/12cfr1002_2016-16301.pdf",
         "regulations/us-cfr/12cfr1002_2017-20417_20220101.pdf")


@pytest.fixture(scope="module")
def regb(tmp_path_factory):
    """Reg B as in force from 2011-12-30, 2016-07-11 and 2022-01-01, with the packaged embedder."""
    from ingest.pipeline import ingest_paths

    files = [shared_path(f"corpus/{name}") for name in REG_B]
    settings = load_settings(env={}, overrides={"data_dir": tmp_path_factory.mktemp("regb") / "data"})
    ingest_paths(files, settings, progress=False)
    return settings


def _ask(capsys, settings, *argv, question: str = RETENTION):
    from regcite.cli import main

    code = main(["--data-dir", str(settings.data_dir), "ask", question, "--json", *argv])
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
@pytest.mark.parametrize("as_of, effective_from, effective_to", [
    ("2017-01-01", "2016-07-11", "2022-01-01"), ("2022-06-01", "2022-01-01", None)])
def test_the_record_retention_answer_cites_the_version_in_force_on_the_date(regb, capsys, as_of, effective_from,
                                                                             effective_to):
    answer = _ask(capsys, regb, "--as-of", as_of)
    # The 25 months sit in 1002.12(b)(1), the paragraph that (i), "any application that it receives", hangs from.
    cited = [c for c in answer["citations"] if c["reference"] in ("12 CFR 1002.12(b)(1)", "12 CFR 1002.12(b)(1)(i)")]
    assert answer["as_of"] == as_of and cited and "25 months" in answer["text"], answer["text"]
    assert {(c["effective_from"], c["effective_to"]) for c in answer["citations"]} == {(effective_from, effective_to)}
    assert len({c["version_id"] for c in answer["citations"]}) == 1
    named = _ask(capsys, regb, "--as-of", as_of, question="What must a creditor retain under 12 CFR 1002.12(b)(1)(i)?")
    item = [c for c in named["citations"] if c["reference"] == "12 CFR 1002.12(b)(1)(i)"]
    assert item and (item[0]["effective_from"], item[0]["effective_to"]) == (effective_from, effective_to)


@pytest.mark.slow
def test_a_clause_added_in_2022_is_absent_before_and_named_lookups_respect_the_date(regb):
    from rag.llamaindex import RegciteRetriever
    from rag.pipeline import open_pipeline

    pipeline = open_pipeline(regb)
    question = "What does 12 CFR 1002.5(a)(4) say?"
    for day, present in ((date(2017, 1, 1), False), (date(2022, 6, 1), True)):
        hits = pipeline.search(question, Filters(as_of=day))
        named = [h for h in hits if h.clause.reference == "12 CFR 1002.5(a)(4)"]
        assert bool(named) is present and all(h.document.answers_on(day) for h in hits)
        nodes = RegciteRetriever(pipeline.retriever, as_of=day).retrieve(question)
        assert any(n.node.metadata["reference"] == "12 CFR 1002.5(a)(4)" for n in nodes) is present
        assert {n.node.metadata["effective_from"] for n in nodes} == {"2016-07-11" if day.year == 2017 else "2022-01-01"}


@pytest.mark.slow
def test_a_date_before_the_first_version_gets_the_plain_answer(regb, capsys):
    answer = _ask(capsys, regb, "--as-of", "2005-01-01")
    assert answer["abstained"] and answer["citations"] == []
    assert answer["text"].startswith("12 CFR 1002 has no version in force on 2005-01-01; the earliest indexed is "
                                     "effective 2011-12-30.")



VERSIONS = ("versions/12cfr1002_2011-31714.html", "versions/12cfr1002_2013-22752.html",
            "versions/12cfr1002_2013-01384.html", "versions/12cfr1002_2013-01384.pdf",
            "amendments/12cfr1002_2016-16301.pdf", "versions/12cfr1002_2017-20417_20180101.html",
            "regulations/us-cfr/12cfr1002_2017-20417_20220101.pdf", "versions/12cfr1003_2015-26607_20170101.html",
            "regulations/us-cfr/12cfr1003_2017-18284_20180101.html")


def _chains(settings):
    from rag.store import open_index
    from rag.versions import chain

    index = open_index(settings)
    return {doc: [(v.version_id, v.effective_from, v.effective_to, v.status) for v in chain(index.documents, doc)]
            for doc in ("12 CFR 1002", "12 CFR 1003")}


@pytest.mark.slow
def test_every_reg_b_and_hmda_version_chains_the_same_in_one_run_and_in_shuffled_runs(tmp_path):
    from ingest.pipeline import ingest_paths

    files = [shared_path(f"corpus/{name}") for name in VERSIONS]
    one = load_settings(env={}, overrides={"data_dir": tmp_path / "one"})
    report = ingest_paths(files, one, progress=False, embedder=HashEmbedder())
    expected = _chains(one)
    assert report.added == len(files) and report.replaced == 0 and not report.skipped
    regb = expected["12 CFR 1002"]
    assert [d for _, d, _, s in regb if s is not Status.ALTERNATE] == [
        date(2011, 12, 30), date(2014, 1, 10), date(2014, 1, 18), date(2016, 7, 11), date(2018, 1, 1), date(2022, 1, 1)]
    assert [s for *_, s in regb].count(Status.ALTERNATE) == 1  # the 2014-01-18 HTML beside its PDF
    assert [(d, e) for _, d, e, _ in expected["12 CFR 1003"]] == [(date(2017, 1, 1), date(2018, 1, 1)),
                                                                 (date(2018, 1, 1), None)]
    for seed in (1, 2):
        shuffled = files[:]
        random.Random(seed).shuffle(shuffled)
        settings = load_settings(env={}, overrides={"data_dir": tmp_path / f"shuffled-{seed}"})
        for start in range(0, len(shuffled), 3):  # three runs of three files each
            ingest_paths(shuffled[start:start + 3], settings, progress=False, embedder=HashEmbedder())
        assert _chains(settings) == expected
    again = HashEmbedder()
    assert ingest_paths(files, one, progress=False, embedder=again).unchanged == len(files) and again.embedded == []
