"""Versions of an instrument: chains ordered by date whatever the ingest order, end dates and statuses derived,
alternates and undated versions placed, and what "no version in force" says."""
from __future__ import annotations

import random
from datetime import date

import pytest

from rag.types import DocumentVersion, Filters, Kind, Status
from rag.versions import chain, consecutive_pairs, place_versions, unavailable_on

TODAY = date(2026, 12, 1)


def version(vid: str, doc_id: str = "12 CFR 1002", effective: date | None = None, source: str = "x.html",
            ingested: str = "2026-01-01T00:00:00+00:00") -> DocumentVersion:
    return DocumentVersion(version_id=vid, doc_id=doc_id, title=doc_id, kind=Kind.REGULATION, jurisdiction="US",
                           language="en", source_path=source, sha256=vid * 4, page_starts=(0,),
                           effective_from=effective, ingested_at=ingested)


REG_B = [version("v2011", effective=date(2011, 12, 30)), version("v2016", effective=date(2016, 7, 11), source="b.pdf"),
         version("v2022", effective=date(2022, 1, 1), source="c.pdf"), version("v2030", effective=date(2030, 1, 1))]


def test_the_chain_is_ordered_by_effective_date_whatever_order_it_arrives_in():
    shuffled = REG_B[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        placed = place_versions(shuffled, TODAY)
        got = [(v.version_id, v.effective_to, v.status) for v in chain(placed, "12 CFR 1002")]
        assert got == [("v2011", date(2016, 7, 11), Status.SUPERSEDED), ("v2016", date(2022, 1, 1), Status.SUPERSEDED),
                       ("v2022", date(2030, 1, 1), Status.IN_FORCE), ("v2030", None, Status.NOT_YET_IN_FORCE)]


@pytest.mark.parametrize("day, answering", [
    (date(2011, 12, 29), None), (date(2011, 12, 30), "v2011"), (date(2016, 7, 10), "v2011"),
    (date(2016, 7, 11), "v2016"), (date(2022, 6, 1), "v2022"), (date(2030, 1, 1), "v2030"),
])
def test_exactly_one_version_answers_on_each_day(day, answering):
    placed = place_versions(REG_B, TODAY)
    got = [v.version_id for v in placed.values() if Filters(as_of=day).admits(v)]
    assert got == ([answering] if answering else [])


def test_the_same_version_in_two_formats_answers_once_from_the_pdf():
    pdf = version("pdf0", effective=date(2014, 1, 18), source="12cfr1002_2013-01384.pdf")
    html = version("html", effective=date(2014, 1, 18), source="12cfr1002_2013-01384.html")
    for order in ([pdf, html], [html, pdf]):
        placed = place_versions(order, TODAY)
        assert (placed["pdf0"].status, placed["html"].status) == (Status.IN_FORCE, Status.ALTERNATE)
        assert [v.version_id for v in placed.values() if Filters(as_of=date(2020, 1, 1)).admits(v)] == ["pdf0"]


def test_undated_versions_answer_only_where_nothing_is_dated():
    memo_old = version("m1", doc_id="memo", ingested="2026-01-01T00:00:00+00:00")
    memo_new = version("m2", doc_id="memo", ingested="2026-02-01T00:00:00+00:00")
    stray = version("s1")  # a Reg B file with no date: it cannot be placed among the dated ones
    placed = place_versions([memo_new, memo_old, stray, *REG_B], TODAY)
    assert (placed["m2"].status, placed["m1"].status, placed["s1"].status) == (
        Status.DATES_UNKNOWN, Status.SUPERSEDED, Status.UNPLACED)
    answering = {v.version_id for v in placed.values() if Filters(as_of=date(1990, 1, 1)).admits(v)}
    assert answering == {"m2"}


def test_neighbouring_pairs_skip_alternates_and_undated_versions():
    extra = [version("alt", effective=date(2016, 7, 11), source="b.html"), version("undated")]
    placed = place_versions([*REG_B, *extra], TODAY)
    assert consecutive_pairs(placed) == {("v2011", "v2016"), ("v2016", "v2022"), ("v2022", "v2030")}


def test_no_version_in_force_says_which_date_would_answer():
    placed = place_versions(REG_B, TODAY)
    early, = unavailable_on(placed, ["12 CFR 1002"], date(2005, 1, 1))
    assert str(early) == ("12 CFR 1002 has no version in force on 2005-01-01; the earliest indexed is effective "
                          "2011-12-30")
    assert unavailable_on(placed, ["12 CFR 1002"], date(2017, 1, 1)) == []
