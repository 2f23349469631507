"""Citation review in a real browser: the app served by `regcite ui`'s command line over a real index (Part 900 in
two versions, the packaged embedder) and a real record book; an asker asks, a reviewer corrects and approves."""
from __future__ import annotations

import re

import pytest

from rag.config import load_settings
from rag.records.book import open_book
from rag.records.queue import history_of
from rag.records.reviews import Action, State, decisions_of
from rag.records.users import Role, User, add_user
from tests.grants import let_read
from tests.ui.conftest import PART_900_2016, PART_900_2022
from tests.ui.test_e2e import browser, new_page, save_screenshot, serve, stop, wait_idle  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e

MARKUP = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
ASKER = User("<script>alert(1)</script><img src=x onerror=alert(1)>", Role.ASKER)  # a name is any printable text
REVIEWER = User("rex", Role.REVIEWER)
ADMIN = User("ada", Role.ADMIN)
PASSWORD = "correct horse battery"
QUESTION = "How many days does a lender have to notify an applicant of action taken?"
MARKED_QUESTION = f"What fee may the notice carry? {MARKUP}"
COMMENT = f"Checked against the rule text: the citation moves to 900.2(b). {MARKUP}"


@pytest.fixture
def review_settings(tmp_path):
    """Part 900 effective 2016-07-11 and 2022-01-01 ingested by the real pipeline, and a record book with users."""
    from datetime import date

    from ingest.pipeline import ingest_paths

    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data",
                                                "audit_key_file": str(tmp_path / "keys" / "audit.key")})
    files = tmp_path / "files"
    files.mkdir()
    for name, text, day in (("part900_2016.md", PART_900_2016, date(2016, 7, 11)),
                            ("part900_2022.md", PART_900_2022, date(2022, 1, 1))):
        (files / name).write_text(text, encoding="utf-8")
        report = ingest_paths([files / name], settings, progress=False, effective_from=day)
        assert report.added == 1 and not report.skipped, report
    book = open_book(settings)
    for user in (ADMIN, REVIEWER, ASKER):
        add_user(book, user.name, user.role, PASSWORD, by=ADMIN)
    let_read(book, REVIEWER.name, ASKER.name)  # Part 900 is in the default collection
    yield settings, book
    book.db.dispose()


def watch_dialogs(page, fired: list[str]):
    page.on("dialog", lambda d: (fired.append(d.message), d.dismiss()))
    return page


def log_in(page, url: str, user: User, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.get_by_role("textbox", name="User name").fill(user.name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("stSidebar").get_by_text(user.name, exact=False).first.wait_for()
    wait_idle(page)


def nav_links(page) -> list[str]:
    """The page titles in the top navigation bar (each link's text ends with its title, after the icon)."""
    return [t.split()[-1] for t in page.get_by_test_id("stTopNavLinkContainer").all_inner_texts()]


def set_as_of(page, digits: str) -> None:
    page.get_by_role("spinbutton", name="year, As of").click()
    page.keyboard.type(digits)  # the field's year, month and day
    page.keyboard.press("Tab")
    wait_idle(page)


def ask(page, question: str) -> None:
    """Ask, and wait for this question's answer to show its review status (it is recorded by then)."""
    messages = page.get_by_test_id("stChatMessage")
    before = messages.count()
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=stChatMessage]').length >= {before + 2}")
    messages.last.get_by_text("Awaiting review").wait_for()
    wait_idle(page)


def choose(page, select, option) -> None:
    """Open a select box and pick the option; a click that lands while the app reruns is tried again."""
    select.wait_for()
    for _ in range(5):
        select.click()
        try:
            page.get_by_role("option", name=option).first.click(timeout=5_000)
            return
        except Exception:  # the list closed under a rerun before the option could be clicked
            page.keyboard.press("Escape")
            wait_idle(page)
    raise AssertionError(f"no option {option!r} to choose")


def assert_nothing_ran(page, fired: list[str]) -> None:
    page.wait_for_timeout(500)  # time for an onerror handler to fire, had an element been created
    assert not fired, fired
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("script", has_text="alert(1)").count() == 0


def test_a_reviewer_corrects_a_citation_and_approves_and_markup_never_runs(browser, review_settings, tmp_path):
    settings, book = review_settings
    proc, url = serve(settings, tmp_path / "streamlit.log")
    fired: list[str] = []
    try:
        # The asker: two questions, one as of 2017 (answered from the version 2022 amended), one holding markup.
        asker = watch_dialogs(new_page(browser), fired)
        log_in(asker, url, ASKER)
        assert ASKER.name in asker.get_by_test_id("stSidebar").inner_text()  # the name, as text
        assert nav_links(asker) == ["Ask", "History", "Library"]  # no Review for an asker
        set_as_of(asker, "20170101")
        ask(asker, QUESTION)
        answered = asker.get_by_test_id("stChatMessage").last.inner_text()
        assert "Stale: cited clause amended, effective 2022-01-01" in answered
        ask(asker, MARKED_QUESTION)
        assert MARKED_QUESTION in asker.get_by_test_id("stMainBlockContainer").first.inner_text()
        assert_nothing_ran(asker, fired)

        # Opening the Review page by its URL: a new session logs in again, and is refused.
        log_in(asker, url, ASKER, path="review")
        main = asker.get_by_test_id("stMainBlockContainer").first
        main.get_by_text("Reviewing needs the reviewer or admin role").wait_for()
        assert "Queue" not in main.inner_text() and QUESTION not in main.inner_text()

        # The reviewer: the queue, oldest first, names and questions as text.
        reviewer = watch_dialogs(new_page(browser), fired)
        reviewer.set_viewport_size({"width": 1400, "height": 900})
        log_in(reviewer, url, REVIEWER)
        assert nav_links(reviewer) == ["Ask", "History", "Library", "Review"]
        reviewer.get_by_role("link", name="Review").click()
        queue = reviewer.get_by_test_id("stMainBlockContainer").first
        queue.get_by_text("2 answers waiting for review").wait_for()
        wait_idle(reviewer)
        rows = queue.locator("[class*='st-key-queue-row-']")
        assert rows.count() == 2
        assert QUESTION in rows.nth(0).inner_text() and MARKED_QUESTION in rows.nth(1).inner_text()
        assert f"asked by {ASKER.name}" in rows.nth(1).inner_text()
        assert "Stale: cited clause amended, effective 2022-01-01" in rows.nth(0).inner_text()
        assert_nothing_ran(reviewer, fired)
        reviewer.wait_for_timeout(300)
        save_screenshot(reviewer, tmp_path, "review-queue.png", docs=True)

        # Open the first: claimed; correct its citation to the clause found by search; approve with corrections.
        rows.nth(0).get_by_role("button", name="Review").click()
        queue.get_by_text("claimed by you until").wait_for()
        citation = queue.locator("[class*='st-key-rv-'][class*='-c0']").first
        citation.get_by_text("Correct", exact=True).click()
        wait_idle(reviewer)
        search = citation.get_by_label("Search for the right clause")
        search.fill("notice in writing fee")
        search.press("Enter")
        wait_idle(reviewer)
        choose(reviewer, citation.get_by_test_id("stSelectbox"), re.compile(r"§ 900\.2\(b\)"))
        wait_idle(reviewer)
        citation.get_by_text("$5").wait_for()  # the chosen clause as it reads in the 2016 version
        queue.get_by_text("Approved with corrections", exact=True).click()
        queue.get_by_label("Comment on the answer").fill(COMMENT)
        wait_idle(reviewer)
        queue.locator("[class*='st-key-rv-'][class*='-s0']").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        reviewer.wait_for_timeout(300)
        save_screenshot(reviewer, tmp_path, "review-correction.png", docs=True)
        queue.get_by_role("button", name="Submit decision").click()
        done = queue.get_by_text("Your decision is recorded")
        done.wait_for()
        wait_idle(reviewer)
        text = queue.inner_text()
        assert COMMENT in text and "Approved with corrections by rex" in text
        assert "corrected to § 900.2(b)" in text
        assert_nothing_ran(reviewer, fired)
        done.evaluate("e => e.scrollIntoView({block: 'start'})")
        reviewer.wait_for_timeout(300)
        save_screenshot(reviewer, tmp_path, "reviewed-answer.png", full_page=True, docs=True)

        # What the record book now says, and what the asker's History shows.
        decided = next(i for i in history_of(book, ASKER.name) if i.question == QUESTION)
        assert decided.state is State.APPROVED_WITH_CORRECTIONS
        decision, = decisions_of(book, decided.answer_id)
        assert decision.comment == COMMENT and decision.citations[0].action is Action.CORRECT
        assert decision.citations[0].correction.reference == "§ 900.2(b)"
        asker.get_by_role("link", name="History").click()
        history = asker.get_by_test_id("stMainBlockContainer").first
        row = history.locator(f"[class*='st-key-hist-{decided.answer_id}']")
        row.get_by_text("Approved with corrections by rex").wait_for()
        row.get_by_role("button", name="Open").click()
        history.get_by_text("Review history").wait_for()
        history.get_by_text("corrected to § 900.2(b)").first.wait_for()  # the decisions draw after the heading
        wait_idle(asker)
        text = history.inner_text()
        assert COMMENT in text and "corrected to § 900.2(b)" in text
        assert "A lender shall notify an applicant of action taken within 30 days" in text  # the 2016 text, as recorded
        assert_nothing_ran(asker, fired)
        asker.wait_for_timeout(300)
        save_screenshot(asker, tmp_path, "history-answer.png", docs=True)
    finally:
        for n, pg in enumerate(browser.contexts):
            for m, p in enumerate(pg.pages):
                p.screenshot(path=f"/tmp/rv/fail-{n}-{m}.png", full_page=True)
                open(f"/tmp/rv/fail-{n}-{m}.txt", "w").write(p.content())
        stop(proc)
