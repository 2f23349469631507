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


def save_screenshot(page, tmp_path: Path, name: str, full_page: bool = False, docs: bool = False) -> Path:
    """Into the test's output folder; with docs, also into docs/screenshots/ when REGCITE_UPDATE_SCREENSHOTS=1."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("REGCITE_UPDATE_SCREENSHOTS") == "1":
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
        page.locator("[data-testid='stSelectbox']:visible").first.click()  # the Browse tab's; other tabs hold some too
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


SHARED_REG_B = ROOT.parent / "shared" / "corpus" / "regulations" / "us-cfr" / "12cfr1002_2017-20417_20220101.pdf"
# Reg B as in force from 2016-07-11, the version before SHARED_REG_B: each PDF states its own effective date.
SHARED_REG_B_2016 = ROOT.parent / "shared" / "corpus" / "amendments" / "12cfr1002_2016-16301.pdf"
SAMPLE_OTHERS = [  # the sample corpus without its Reg B excerpt (and without corpus/README.md)
    ROOT / "corpus" / "regulations" / "sample_gdpr_2016-679_excerpt.html",
    ROOT / "corpus" / "regulations" / "sample_反洗钱法_excerpt(2024-11-08).md",
    ROOT / "corpus" / "reports",
]


def _ingest(paths: list[Path], data_dir: Path):
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings

    settings = load_settings(env={}, overrides={"data_dir": data_dir,
                                                "audit_key_file": str(data_dir.parent / "keys" / "audit.key")})
    report = ingest_paths(paths, settings, progress=False)
    assert report.added >= 4 and not report.skipped, report
    return settings


@pytest.fixture(scope="module", params=["sample", "us-cfr"])
def reg_b_index(request, tmp_path_factory):
    """An index holding Reg B, built by the real pipeline (packaged embedder, real FAISS): the sample corpus with its
    3-page excerpt (always here), or the real 66-page Reg B PDFs from ../shared, the 2022 version and the 2016 one
    before it, beside the other samples."""
    data = tmp_path_factory.mktemp(request.param) / "data"
    if request.param == "sample":
        return request.param, _ingest([ROOT / "corpus"], data)
    for path in (SHARED_REG_B, SHARED_REG_B_2016):
        if not path.is_file():
            pytest.skip(f"needs the real Reg B PDF at {path} (the shared corpus beside the project); absent here")
    return request.param, _ingest([SHARED_REG_B, SHARED_REG_B_2016, *SAMPLE_OTHERS], data)


def _docs_screenshots(variant: str) -> bool:
    # docs/screenshots/ shows the real Reg B; the sample variant's screenshots stay in the test's output folder.
    return variant == "us-cfr"


def ask_reg_b(page):
    """Ask the Reg B adverse-action question and wait for the answer's heading of 1002.9(a)(1)(iii)."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(REG_B_QUESTION)
    box.press("Enter")
    heading = page.get_by_test_id("stHeading").filter(has_text="1002.9(a)(1)(iii)").first
    heading.wait_for()
    wait_idle(page)
    return heading


def test_reg_b_question_is_answered_with_its_clause_and_page(browser, reg_b_index, tmp_path):
    variant, settings = reg_b_index
    proc, url = serve(settings, tmp_path / "streamlit.log")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(url)
        heading = ask_reg_b(page)

        card = page.locator("[class*='st-key-card-']").filter(has=heading).last
        card_text = card.inner_text()
        assert "12 CFR 1002.9(a)(1)(iii)" in card_text
        pages = re.search(r"\bpp?\. (\d+)", card_text)
        assert pages, card_text
        if variant == "us-cfr":
            assert pages.group(1) == "13", card_text  # § 1002.9(a)(1)(iii) is on page 13 of the 2022 PDF
        assert "Supported" in card_text and "30 days after taking adverse action on an existing account" in card_text
        assert "in force since 2022-01-01" in card_text  # asked as of today: the 2022 version, named on its card
        answer = page.get_by_test_id("stChatMessage").last.inner_text()
        assert "30 days" in answer

        card.get_by_text("Open source").click()
        card.get_by_role("tab", name="In context").wait_for()
        card.get_by_role("tab", name="Page").click()
        image = card.get_by_test_id("stImage").first
        image.wait_for()  # the PDF page with the passage marked
        assert "the cited passage is marked" in image.inner_text()
        wait_idle(page)
        page.wait_for_timeout(500)
        page.get_by_test_id("stChatMessage").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        save_screenshot(page, tmp_path, "ask.png", docs=_docs_screenshots(variant))

        page.set_viewport_size({"width": 1400, "height": 640})  # the table of four documents, without empty space
        page.goto(f"{url}/library")
        page.get_by_test_id("stDataFrame").first.wait_for()
        wait_idle(page)
        page.wait_for_timeout(800)  # the grid paints on a canvas after it mounts
        save_screenshot(page, tmp_path, "library.png", docs=_docs_screenshots(variant))

        page.set_viewport_size({"width": 1400, "height": 900})
        page.get_by_role("tab", name=re.compile("Browse clauses")).click()
        main = page.get_by_test_id("stMain")
        main.get_by_test_id("stSelectbox").nth(1).click()  # Section
        page.get_by_role("option", name="§ 1002.9").click()
        wait_idle(page)
        main.get_by_test_id("stRadio").get_by_text(
            re.compile(r"\(iii\)\s+30 days after taking adverse action")).click()
        wait_idle(page)
        main.locator(".st-key-lib-clause").filter(has_text="12 CFR 1002.9(a)(1)(iii)").wait_for()
        page.wait_for_timeout(500)
        save_screenshot(page, tmp_path, "library-browse.png", docs=_docs_screenshots(variant))
    finally:
        stop(proc)


def test_reg_b_versions_answer_as_of_a_date_and_show_their_changes(browser, reg_b_index, tmp_path):
    """The real 2016 and 2022 Reg B: asked as of 2017 the 2016 version answers; the Library redlines the two and
    links each change to its clause."""
    variant, settings = reg_b_index
    if variant != "us-cfr":
        pytest.skip("the sample corpus holds one version of Reg B")
    proc, url = serve(settings, tmp_path / "streamlit.log")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_test_id("stChatInputTextArea").wait_for()
        wait_idle(page)
        page.get_by_role("spinbutton", name="year, As of").click()
        page.keyboard.type("20170101")  # the field's year, month and day
        page.keyboard.press("Tab")
        wait_idle(page)
        heading = ask_reg_b(page)
        card_text = page.locator("[class*='st-key-card-']").filter(has=heading).last.inner_text()
        assert "effective 2016-07-11 to 2022-01-01" in card_text and "12cfr1002_2016-16301.pdf" in card_text
        assert "As of 2017-01-01" in page.get_by_test_id("stChatMessage").last.inner_text()

        page.goto(f"{url}/library")
        page.get_by_role("tab", name=re.compile("Versions")).click()
        main = page.get_by_test_id("stMain")
        change = main.locator("[class*='st-key-change-']").filter(has_text="Modified").first
        change.wait_for()
        wait_idle(page)
        assert change.locator("del").count() >= 1  # the redline's deletions, struck through
        main.get_by_test_id("stSelectbox").filter(has_text="Instrument").evaluate(
            "e => e.scrollIntoView({block: 'start'})")  # the chain, the counts and the first changes
        page.wait_for_timeout(500)
        save_screenshot(page, tmp_path, "library-versions.png", docs=True)

        link = change.get_by_role("link").last  # the clause in the newer version
        reference = link.inner_text()
        with page.context.expect_page() as opened:
            link.click()
        browse = opened.value
        browse.locator(".st-key-lib-clause").filter(has_text=reference).wait_for()
        assert browse.get_by_role("tab", name=re.compile("Browse clauses")).get_attribute("aria-selected") == "true"
    finally:
        stop(proc)


def test_upload_in_the_browser_ingests_good_files_and_names_the_bad(browser, settings, tmp_path):
    from rag.store import open_index

    build_index(settings)
    good = tmp_path / "Staff memo: adverse action.md"
    good.write_text("# Staff memo\n\n## 1. Timing\n\nNotify applicants within 30 days of adverse action.\n")
    bad = tmp_path / "amendment.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj <<\ntruncated")
    proc, url = serve(settings, tmp_path / "streamlit.log")
    try:
        page = new_page(browser)
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{url}/library")
        page.get_by_role("tab", name=re.compile("Add documents")).click()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(good), str(bad)])
        page.get_by_test_id("stFileChip").nth(1).wait_for()  # both files received
        page.get_by_role("button", name=re.compile("Ingest uploaded files")).click()
        alert = page.get_by_test_id("stAlertContainer").filter(has_text="Ingest finished")
        alert.wait_for(timeout=300_000)
        wait_idle(page)
        assert "1 added" in alert.inner_text() and "1 skipped" in alert.inner_text()
        assert open_index(settings).generation == 2
        page.wait_for_timeout(800)
        save_screenshot(page, tmp_path, "library-upload.png", docs=True)
        # the new document is served at once, on the next run of the page
        page.get_by_role("tab", name=re.compile("Documents")).click()
        page.get_by_test_id("stMetric").filter(has_text="Index generation").filter(has_text="2").wait_for()
    finally:
        stop(proc)
