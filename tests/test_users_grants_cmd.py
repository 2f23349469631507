"""`regcite users grant|revoke|group-add|group-remove|grants` and `regcite ingest --collection`: an admin puts
files in collections and says who reads them; `docs` and `search` then list each user only what they may read."""
from __future__ import annotations

import json

import pytest

from tests.fakes import HashEmbedder
from tests.test_users_cmd import add_people, cheap_hashing, cli, records_url  # noqa: F401 (fixtures)

LETTER = "# Supervisory Letter 7\n\n§ 7731.4 Remediation.\n\n(a) The bank shall remediate the Zanzibar ledger.\n"
RULE = "# Part 900 - Sample Notices\n\n§ 900.1 Notices.\n\n(a) A lender shall notify an applicant within 30 days.\n"


@pytest.fixture
def library(cli, tmp_path, monkeypatch):
    """ada, ann, rex, rosa; a rule in `default` and a letter in `supervisory`, ingested by the CLI."""
    for where in ("rag.embed.load_embedder", "rag.pipeline.load_embedder"):
        monkeypatch.setattr(where, lambda settings: HashEmbedder(64))
    (tmp_path / "rule.md").write_text(RULE, encoding="utf-8")
    (tmp_path / "letter.md").write_text(LETTER, encoding="utf-8")
    assert cli("ingest", str(tmp_path / "rule.md"), "--no-progress")[0] == 0
    code, out, err = cli("ingest", str(tmp_path / "letter.md"), "--no-progress", "--collection", "supervisory")
    assert code == 0, err
    add_people(cli)
    return cli


def doc_ids(cli, user: str) -> list[str]:
    code, out, err = cli.as_(user, "docs", "--json")
    assert code == 0, err
    return [d["doc_id"] for d in json.loads(out)]


def test_an_admin_grants_and_revokes_and_each_user_lists_only_what_they_may_read(library):
    cli = library
    assert doc_ids(cli, "ada") == ["Part 7731", "Part 900"]
    assert doc_ids(cli, "ann") == []  # no grant: nothing
    code, out, _ = cli.as_("ada", "users", "grant", "ann", "default")
    assert (code, out.strip()) == (0, "user ann may read collection default (granted by ada)")
    assert doc_ids(cli, "ann") == ["Part 900"]
    assert cli.as_("ada", "users", "group-add", "examiners", "ann")[0] == 0
    assert cli.as_("ada", "users", "grant", "examiners", "supervisory", "--group")[0] == 0
    assert doc_ids(cli, "ann") == ["Part 7731", "Part 900"]
    code, out, _ = cli.as_("ada", "users", "grants", "ann")
    assert code == 0 and "groups examiners" in out and "supervisory  group examiners" in out
    code, out, _ = cli.as_("ada", "users", "grants", "--json")
    assert [(g["grantee"], g["collection"]) for g in json.loads(out)] == [("ann", "default"),
                                                                          ("examiners", "supervisory")]
    assert cli.as_("ada", "users", "group-remove", "examiners", "ann")[0] == 0
    assert cli.as_("ada", "users", "revoke", "ann", "default")[0] == 0
    assert doc_ids(cli, "ann") == []
    code, out, _ = cli.as_("ann", "search", "remediate the Zanzibar ledger", "--json")
    assert code == 0 and json.loads(out) == []


@pytest.mark.parametrize("argv, code, message", [
    (("ann", "users", "grant", "rex", "default"), 4, "ann is asker: only admins grant access to collections"),
    (("rex", "users", "grants"), 4, "rex is reviewer: only admins list grants"),
    (("ada", "users", "grant", "nobody", "default"), 2, "no user 'nobody'"),
    (("ada", "users", "revoke", "ann", "default"), 2, "user 'ann' has no grant on 'default'"),
    (("ada", "users", "group-remove", "examiners", "ann"), 2, "'ann' is not in group 'examiners'"),
])
def test_a_grant_change_that_cannot_be_made_exits_with_its_message(library, argv, code, message):
    got, _, err = library.as_(*argv)
    assert (got, message in err) == (code, True), err


def test_ingest_with_a_collection_moves_a_stored_file_and_a_bad_name_is_refused(library, tmp_path):
    cli = library
    code, out, err = cli("ingest", str(tmp_path / "rule.md"), "--no-progress", "--collection", "supervisory")
    assert code == 0 and "moved to collection 'supervisory'" in out, err
    versions = {d["doc_id"]: d["versions"][0]["collection"] for d in json.loads(cli.as_("ada", "docs", "--json")[1])}
    assert versions == {"Part 7731": "supervisory", "Part 900": "supervisory"}
    code, out, err = cli("ingest", str(tmp_path / "rule.md"), "--no-progress")  # no --collection: it stays
    assert code == 0 and "moved to collection" not in out
    code, _, err = cli("ingest", str(tmp_path / "rule.md"), "--no-progress", "--collection", "bad\tname")
    assert code == 2 and "a collection name is 1-200 printable characters" in err
