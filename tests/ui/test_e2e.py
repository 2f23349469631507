"""The app served on loopback by `regcite ui`'s command line, driven in headless Chromium with Playwright."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from regcite.ui_cmd import command
from tests.ui.conftest import HOSTILE, ROOT, build_index

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
REG_B_QUESTION = ("How long does a creditor have to notify an applicant after taking adverse action on an existing "
                  "account?")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(settings, log_path: Path):
    """Start the app as `regcite ui` would; returns (process, url) once Streamlit reports healthy."""
    port = _free_port()
    argv, env = command(settings, "127.0.0.1", port)
    log = open(log_path, "w")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit not healthy in 60 s: {log_path.read_text()[-2000:]}")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`, as .ci/run does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    page.set_default_timeout(60_000)
    return page


def save_screenshot(page, tmp_path: Path, name: str, full_page: bool = False) -> Path:
    """Into the test's output folder, and into docs/screenshots/ when REGCITE_UPDATE_SCREENSHOTS=1."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("REGCITE_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return path


def wait_idle(page) -> None:
    """Until Streamlit has finished the current run (its status widget shows "Running…" while it works)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=120_000,
    )


def test_document_markup_is_shown_literally_and_never_runs(browser, settings, tmp_path):
    build_index(settings, with_hostile=True)
    proc, url = serve(settings, tmp_path / "streamlit.log")
    try:
        page = new_page(browser)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{url}/library")
        page.get_by_text("Browse clauses").click()
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=re.compile("memo-policy")).click()
        wait_idle(page)
        main = page.get_by_test_id("stMain")
        main.get_by_text("window.pwned=1", exact=False).first.wait_for()

        text = main.inner_text()
        assert "<script>window.pwned=1</script>" in text
        assert '<img src=x onerror="window.pwned=2">' in text
        page.wait_for_timeout(500)  # give an onerror handler, had one been created, time to fire
        assert page.evaluate("window.pwned") is None
        assert not dialogs
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator("script", has_text="pwned").count() == 0
        save_screenshot(page, tmp_path, "library-markup.png")
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory):
    """The project's sample corpus, ingested once by the real pipeline (packaged embedder, real FAISS)."""
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings

    settings = load_settings(env={}, overrides={"data_dir": tmp_path_factory.mktemp("sample") / "data"})
    report = ingest_paths([ROOT / "corpus"], settings, progress=False)
    assert report.added >= 4 and not report.skipped, report
    return settings


def test_reg_b_question_is_answered_with_its_clause_and_page(browser, sample_index, tmp_path):
    proc, url = serve(sample_index, tmp_path / "streamlit.log")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1500}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(url)
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(REG_B_QUESTION)
        box.press("Enter")
        heading = page.get_by_test_id("stHeading").filter(has_text="1002.9(a)(1)(iii)").first
        heading.wait_for()
        wait_idle(page)

        card = page.get_by_test_id("stVerticalBlockBorderWrapper").filter(has=heading).last
        card_text = card.inner_text()
        assert "12 CFR 1002.9(a)(1)(iii)" in card_text
        assert re.search(r"\bpp?\. \d+", card_text), card_text
        answer = page.get_by_test_id("stChatMessage").last.inner_text()
        assert "30 days" in answer

        card.get_by_text("Open source").click()
        card.get_by_role("tab", name="In context").wait_for()
        card.get_by_role("tab", name="Page").click()
        card.get_by_test_id("stImage").first.wait_for()  # the PDF page with the passage marked
        wait_idle(page)
        page.get_by_test_id("stChatMessage").last.scroll_into_view_if_needed()
        save_screenshot(page, tmp_path, "ask.png")

        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(f"{url}/library")
        page.get_by_test_id("stDataFrame").first.wait_for()
        wait_idle(page)
        page.wait_for_timeout(800)  # the grid paints on a canvas after it mounts
        save_screenshot(page, tmp_path, "library.png")
    finally:
        stop(proc)
