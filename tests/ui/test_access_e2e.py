"""The access matrix in a real browser: the app served by `regcite ui`'s command line over two collections (the
packaged embedder), in headless Chromium. ann, who may read A only, logs in, asks a question naming a clause of
B and one quoting it, and browses the library: nothing of B is visible (text, options, counts). ada, an admin,
sees B in the same places, so the checks could fail."""
from __future__ import annotations

import re

import pytest

from rag.config import load_settings
from tests.access_fixtures import QUESTIONS, build_two_collections, leaks
from tests.ui.test_e2e import browser, new_page, save_screenshot, serve, stop, wait_idle  # noqa: F401 (a fixture)
from tests.ui.test_review_e2e import ask, log_in, watch_dialogs
from rag.records.users import Role, User

pytestmark = pytest.mark.e2e

ANN, ADA = User("ann", Role.ASKER), User("ada", Role.ADMIN)
LIBRARY_TABS = ("Documents", "Browse clauses", "Versions", "Add documents")


@pytest.fixture
def served(tmp_path):
    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data",
                                                "audit_key_file": str(tmp_path / "keys" / "audit.key")})
    world = build_two_collections(settings, tmp_path / "files", embedder=None)
    proc, url = serve(settings, tmp_path / "streamlit.log")
    try:
        yield world, url
    finally:
        stop(proc)


def options_of(page, select) -> str:
    """The options a select box or multiselect offers, read from its open list."""
    select.click()
    page.get_by_role("option").first.wait_for(timeout=10_000)
    texts = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    wait_idle(page)
    return "\n".join(texts)


def library_text(page) -> str:
    """Everything the Library's tabs show: their text, the documents grid's cells, and every select box's options."""
    page.get_by_role("link", name="Library").click()
    wait_idle(page)
    main = page.get_by_test_id("stMainBlockContainer").first
    seen = []
    for tab in LIBRARY_TABS:
        main.get_by_role("tab", name=re.compile(rf"\b{tab}$")).click()
        wait_idle(page)
        seen.append(main.inner_text())
        grid = main.get_by_test_id("stDataFrame")
        if grid.count():
            # the grid draws on a canvas; its cells are also in an accessible table that holds their text
            seen += grid.first.locator("[role=gridcell], td").all_text_contents()
        for select in main.get_by_test_id("stSelectbox").all():
            if select.is_visible():
                seen.append(options_of(page, select))
    return "\n".join(seen)


def test_ann_sees_nothing_of_b_in_the_browser_and_ada_does(browser, served, tmp_path):
    world, url = served
    fired: list[str] = []

    ada = watch_dialogs(new_page(browser), fired)
    log_in(ada, url, ADA)
    ask(ada, QUESTIONS[0])
    admin_sees = ada.get_by_test_id("stMainBlockContainer").first.inner_text() + library_text(ada)
    assert "Supervisory Letter" in admin_sees and leaks(admin_sees, versions=world.b_versions)

    ann = watch_dialogs(new_page(browser), fired)
    log_in(ann, url, ANN)
    for question in QUESTIONS:
        ask(ann, question)
    main = ann.get_by_test_id("stMainBlockContainer").first.inner_text()
    sidebar = ann.get_by_test_id("stSidebar").inner_text()
    documents = options_of(ann, ann.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").first)
    assert "Part 900" in documents and "Part 950" in documents  # the filter offers A's documents ...
    shown = "\n".join((main, sidebar, documents))
    assert not leaks(shown, versions=world.b_versions), leaks(shown, versions=world.b_versions)  # ... and only A's
    assert "Searched 2 documents (Part 900, Part 950)" in main
    save_screenshot(ann, tmp_path, "access-ann-ask.png")

    library = library_text(ann)
    assert "Part 900" in library and "Adding documents is for admins" in library
    assert not leaks(library, versions=world.b_versions), leaks(library, versions=world.b_versions)
    save_screenshot(ann, tmp_path, "access-ann-library.png")
    assert not fired, fired
