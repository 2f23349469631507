"""Versions in AppTest: answers as of a date cite that day's version; the Library shows the chain and the diff."""
from __future__ import annotations

from datetime import date

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import ROOT, ingest_versions

APP = str(ROOT / "ui" / "app.py")
QUESTION = "How many days does a lender have to notify an applicant of action taken?"


def _ask_as_of(day: date | None, question: str = QUESTION) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if day is not None:
        at.date_input(key="f_as_of").set_value(day).run()
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def _card_text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.subheader])


def test_the_same_question_cites_the_version_in_force_on_the_date_asked(app_env, tmp_path, monkeypatch):
    versions = ingest_versions(app_env, tmp_path / "files", monkeypatch)
    old, new = versions[2016], versions[2022]

    at = _ask_as_of(date(2017, 1, 1))
    answer = at.session_state["ask_turns"][0]
    assert answer.as_of == date(2017, 1, 1) and not answer.abstained
    assert {c.version_id for c in answer.citations} == {old.version_id}
    shown = _card_text(at)
    assert ":blue-badge[:material/event: As of 2017-01-01]" in shown
    assert "within 30 days" in shown
    assert ":gray-badge[:material/event: effective 2016-07-11 to 2022-01-01]" in shown  # the card names its version
    assert f"version `{old.version_id}` · :material/draft: part900\\_2016\\.md" in shown
    assert at.subheader[0].value == "[1] § 900\\.2\\(a\\)"

    at = _ask_as_of(date(2022, 6, 1))
    answer = at.session_state["ask_turns"][0]
    assert {c.version_id for c in answer.citations} == {new.version_id}
    shown = _card_text(at)
    assert "within 14 days" in shown and "within 30 days" not in shown
    assert ":gray-badge[:material/event: in force since 2022-01-01]" in shown
    assert "part900\\_2022\\.md" in shown


def test_the_date_defaults_to_today_and_reaches_the_answerer(app_env, tmp_path, monkeypatch):
    ingest_versions(app_env, tmp_path / "files", monkeypatch)
    at = _ask_as_of(None)
    assert at.date_input(key="f_as_of").value == date.today()
    assert at.session_state["ask_turns"][0].as_of == date.today()
    assert "within 14 days" in _card_text(at)


def test_a_date_before_the_first_version_says_nothing_was_in_force(app_env, tmp_path, monkeypatch):
    ingest_versions(app_env, tmp_path / "files", monkeypatch)
    at = _ask_as_of(date(2005, 1, 1))

    assert at.session_state["ask_turns"][0].abstained
    assert not at.subheader  # no citation cards
    assert len(at.warning) == 1
    warning = at.warning[0].value
    assert warning.startswith("Part 900 has no version in force on 2005\\-01\\-01\\; the earliest indexed is "
                              "effective 2016\\-07\\-11\\.")
    assert not at.info  # the note is the banner's own sentence, not said twice
    assert ":blue-badge[:material/event: As of 2005-01-01]" in _card_text(at)


def _versions_tab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page("views/library.py").run()
    assert not at.exception
    return at


def test_library_shows_the_chain_and_the_redlined_changes(app_env, tmp_path, monkeypatch):
    versions = ingest_versions(app_env, tmp_path / "files", monkeypatch)
    at = _versions_tab()

    assert at.selectbox(key="ver_doc").value == "Part 900"
    assert at.selectbox(key="lib_doc").value == versions[2022]  # the clause browser opens on the newest version
    chain = next(d.value for d in at.dataframe if "Effective from" in d.value.columns).to_dict("records")
    assert [(r["Effective from"], r["Effective to"], r["Status"], r["Date from"], r["Clauses"], r["File"])
            for r in chain] == [
        ("2016-07-11", "2022-01-01", "superseded", "stated at ingest", 5, "part900_2016.md"),
        ("2022-01-01", "–", "in force", "stated at ingest", 5, "part900_2022.md"),
    ]
    assert at.selectbox(key="ver_from_Part 900").value == versions[2016]
    assert at.selectbox(key="ver_to_Part 900").value == versions[2022]
    assert {m.label: m.value for m in at.metric if m.label in ("Added", "Removed", "Modified", "Moved", "Editorial")} \
        == {"Added": "1", "Removed": "1", "Modified": "2", "Moved": "0", "Editorial": "1"}

    shown = "\n".join(m.value for m in at.markdown)
    # word-level redline, document text escaped inside the marks ($ would otherwise start LaTeX)
    assert ("within :red-background[~~30~~] :green-background[**14**] days" in shown)
    assert "fee of no more than \\$:red-background[~~5~~]:green-background[**10**]\\." in shown
    # each change names its clause in both versions, linked into the clause browser
    old_a = f"{versions[2016].version_id}%3A3"
    new_a = f"{versions[2022].version_id}%3A2"
    assert (f":orange-badge[:material/edit: Modified] [§ 900\\.2\\(a\\)](?clause={old_a}) → "
            f"[§ 900\\.2\\(a\\)](?clause={new_a})") in shown
    assert ":red-badge[:material/do_not_disturb_on: Removed] [§ 900\\.1\\(b\\)]" in shown
    assert ":gray[not in the older version]" in shown  # the added § 900.3(a)
    # editorial changes are folded away until asked for
    assert ":gray-badge[editorial]" not in shown and "sets out:green-background" not in shown
    at.toggle(key=f"ver_ed_{versions[2016].version_id}_{versions[2022].version_id}").set_value(True).run()
    shown = "\n".join(m.value for m in at.markdown)
    assert ":gray-badge[editorial]" in shown and "sets out:green-background[**\\,**] when" in shown


def test_a_link_from_a_change_opens_the_clause_in_the_browser(app_env, tmp_path, monkeypatch):
    versions = ingest_versions(app_env, tmp_path / "files", monkeypatch)
    old = versions[2016]
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.query_params["clause"] = f"{old.version_id}:3"
    at = at.switch_page("views/library.py").run()

    assert not at.exception
    assert at.selectbox(key="lib_doc").value == old
    assert at.selectbox(key=f"lib_sec_{old.version_id}").value == "§ 900.2"
    assert "#### § 900\\.2\\(a\\)" in "\n".join(m.value for m in at.markdown)
    assert "within 30 days" in "\n".join(m.value for m in at.markdown)
    assert "clause" not in at.query_params  # consumed: the user's next choice is not overridden

    at.query_params["clause"] = "0000000000000000:7"  # a clause re-ingested away since the link was made
    at.run()
    assert not at.exception and at.selectbox(key="lib_doc").value == old


def test_an_instrument_with_one_version_says_there_is_nothing_to_compare(app_env):
    from tests.ui.conftest import build_index

    build_index(app_env)
    at = _versions_tab()
    assert any("has no dated versions" in c.value for c in at.caption)
    assert not [m for m in at.metric if m.label == "Modified"]
