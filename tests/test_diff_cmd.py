"""`regcite diff`: the stored alignment of an instrument's versions as added, removed, modified and moved clauses."""
from __future__ import annotations

import argparse
import json

import pytest

from rag.config import load_settings
from rag.errors import ConfigError
from tests.fakes import HashEmbedder

HEAD = "# 12 CFR Part 1099 — TEST RULE (Regulation T)\n\nEffective date: {day}\n\n"
SCOPE = ("## § 1099.1 Scope.\n\n(a) Purpose. This part governs the test disclosures that a creditor makes to an "
         "applicant for consumer credit.\n\n(b) Coverage. This part applies to every creditor that regularly extends "
         "consumer credit to applicants {dash} as {quoted} here.\n\n")
TIMING = "(a) Timing. A creditor shall notify an applicant of action taken within {days} days after receiving a completed application."
RECORDS = "Records. A creditor shall preserve any application that it receives for twenty five months after notifying the applicant."
DISCOURAGE = "Discouragement. A creditor shall not discourage on a prohibited basis a reasonable person from making an application."
ELECTRONIC = "Electronic notices. A creditor may send any notice required by this section electronically if the applicant agrees."
VERSIONS = {
    "2020": HEAD.format(day="2020-01-01") + SCOPE.format(dash="-", quoted='"defined"') + "## § 1099.2 Notices.\n\n"
    + TIMING.format(days=30) + f"\n\n(b) {RECORDS}\n\n(c) {DISCOURAGE}\n",
    # 30 -> 60 days; a new (b) pushes Records to (c); Discouragement goes; the dash and quotes turn typographic.
    "2021": HEAD.format(day="2021-01-01") + SCOPE.format(dash="—", quoted="“defined”") + "## § 1099.2 Notices.\n\n"
    + TIMING.format(days=60) + f"\n\n(b) {ELECTRONIC}\n\n(c) {RECORDS}\n",
    # A new section.
    "2022": HEAD.format(day="2022-01-01") + SCOPE.format(dash="—", quoted="“defined”") + "## § 1099.2 Notices.\n\n"
    + TIMING.format(days=60) + f"\n\n(b) {ELECTRONIC}\n\n(c) {RECORDS}\n\n## § 1099.3 Fees.\n\n"
    "(a) General. A creditor shall not charge an applicant any fee for a notice that this part requires.\n",
}



@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from ingest.pipeline import ingest_paths

    folder = tmp_path_factory.mktemp("rule")
    for year, text in VERSIONS.items():
        (folder / f"12cfr1099_{year}.md").write_text(text, encoding="utf-8")
    settings = load_settings(env={}, overrides={"data_dir": tmp_path_factory.mktemp("data")})
    report = ingest_paths([folder], settings, progress=False, embedder=HashEmbedder())
    assert report.added == 3 and not report.skipped
    return settings


def diff(settings, capsys, *argv) -> str:
    from regcite import diff_cmd

    parser = argparse.ArgumentParser()
    diff_cmd.add_arguments("diff", parser)
    assert diff_cmd.run("diff", parser.parse_args(["12 CFR 1099", *argv]), settings) == 0
    return capsys.readouterr().out


def test_json_lists_each_change_with_canonical_references_between_the_two_latest_by_default(settings, capsys):
    out = json.loads(diff(settings, capsys, "--json"))
    assert (out["doc_id"], out["from"]["effective_from"], out["to"]["effective_from"]) == (
        "12 CFR 1099", "2021-01-01", "2022-01-01")
    assert out["changes"] == [{"kind": "added", "editorial": False, "from_ref": None, "to_ref": "12 CFR 1099.3(a)",
                               "old_text": None, "new_text": "General. A creditor shall not charge an applicant any fee "
                                                             "for a notice that this part requires."},
                              {"kind": "modified", "editorial": False, "from_ref": "12 CFR 1099", "to_ref": "12 CFR 1099",
                               "old_text": "12 CFR Part 1099 — TEST RULE (Regulation T) Effective date: 2021-01-01",
                               "new_text": "12 CFR Part 1099 — TEST RULE (Regulation T) Effective date: 2022-01-01"}]
    assert out["summary"] == {"added": 1, "removed": 0, "modified": 1, "moved": 0, "editorial": 0}


def test_a_redesignation_is_moved_and_a_typographic_change_editorial(settings, capsys):
    out = json.loads(diff(settings, capsys, "--from", "2020-06-30", "--to", "2021-01-01", "--json"))
    got = {(c["kind"], c["from_ref"], c["to_ref"], c["editorial"]) for c in out["changes"]}
    assert got == {("modified", "12 CFR 1099", "12 CFR 1099", False),
                   ("modified", "12 CFR 1099.1(b)", "12 CFR 1099.1(b)", True),
                   ("modified", "12 CFR 1099.2(a)", "12 CFR 1099.2(a)", False),
                   ("modified", "12 CFR 1099.2(b)", "12 CFR 1099.2(b)", False),  # Records -> Electronic notices
                   ("modified", "12 CFR 1099.2(c)", "12 CFR 1099.2(c)", False),  # Discouragement -> Records
                   ("moved", "12 CFR 1099.2(b)", "12 CFR 1099.2(c)", False)}
    assert out["summary"]["editorial"] == 1


def test_text_output_counts_then_redlines(settings, capsys):
    text = diff(settings, capsys, "--from", "2020-01-01", "--to", "2021-01-01")
    lines = text.splitlines()
    assert lines[1] == "0 added, 0 removed, 5 modified (1 editorial), 1 moved"
    assert "~ 12 CFR 1099.1(b) (editorial)" in lines
    assert any(line.strip().endswith("within [-30-] {+60+} days after receiving a completed application.")
               for line in lines)
    assert "~ 12 CFR 1099.2(b) -> 12 CFR 1099.2(c)" in lines


def test_a_diff_over_several_versions_follows_the_stored_steps(settings, capsys):
    out = json.loads(diff(settings, capsys, "--from", "2020-01-01", "--to", "2022-01-01", "--json"))
    got = {(c["kind"], c["from_ref"], c["to_ref"]) for c in out["changes"]}
    assert ("added", None, "12 CFR 1099.3(a)") in got and ("moved", "12 CFR 1099.2(b)", "12 CFR 1099.2(c)") in got
    assert ("modified", "12 CFR 1099.2(a)", "12 CFR 1099.2(a)") in got


def test_versions_are_named_by_id_or_prefix(settings, capsys):
    from rag.store import open_index
    from rag.versions import chain

    first, second, _ = chain(open_index(settings).documents, "12 CFR 1099")
    out = json.loads(diff(settings, capsys, "--from", first.version_id[:8], "--to", second.version_id, "--json"))
    assert (out["from"]["version_id"], out["to"]["version_id"]) == (first.version_id, second.version_id)


@pytest.mark.parametrize("argv, message", [
    (["--from", "2019-01-01"], "no version in force on 2019-01-01; the earliest indexed is effective 2020-01-01"),
    (["--from", "2022-01-01", "--to", "2021-01-01"], "must be older than --to"),
    (["--from", "zzzz"], "not a date (YYYY-MM-DD) nor a version id"),
    (["--to", "2021-02-30"], "is not a date"),
])
def test_bad_endpoints_say_what_to_give(settings, capsys, argv, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        diff(settings, capsys, *argv)


def test_an_unknown_instrument_names_the_indexed_ones(settings):
    from regcite import diff_cmd

    parser = argparse.ArgumentParser()
    diff_cmd.add_arguments("diff", parser)
    with pytest.raises(ConfigError, match="no indexed document 'Reg Z'; indexed: 12 CFR 1099"):
        diff_cmd.run("diff", parser.parse_args(["Reg Z"]), settings)
