"""The run report opened in headless Chromium: the metric table is there and every plot decodes and shows."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from eval_fakes import answer, scripted

from evals.questions import load_set
from evals.run import run_set
from rag.types import Verdict

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = ROOT / "docs" / "screenshots" / "eval-report.png"


def _run(tmp_path: Path, settings) -> Path:
    rows = [
        {"id": "hit", "question": "How long after adverse action?", "gold": ["12 CFR 1002.9(a)(1)"], "key_facts": ["30 days"]},
        {"id": "miss", "question": "Which form?", "gold": ["12 CFR 1002.13"]},
        {"id": "none", "question": "证券公司的净资本不得低于多少？", "answerable": False},
    ]
    qset = tmp_path / "set.jsonl"
    qset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    script = {
        "hit": answer("q", ["12 CFR 1002.2", "12 CFR 1002.9(a)(1)(iii)"], ["12 CFR 1002.9(a)(1)(iii)"], "within 30 days"),
        "miss": answer("q", ["12 CFR 1002.2"], ["12 CFR 1002.2"], "nothing", verdict=Verdict.UNSUPPORTED),
        "none": answer("q", [], [], "The indexed documents do not say.", abstained=True),
    }
    out = tmp_path / "run"
    run_set(load_set(qset), settings, out, answer_path=scripted(script), set_path=str(qset), progress=False)
    return out / "report.html"


def _open(report: Path, screenshot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`, as .ci/run does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            seen = page.evaluate("""() => ({
                metrics: [...document.querySelectorAll('h2')].find(h => h.textContent === 'Metrics')
                    ?.nextElementSibling?.innerText ?? '',
                images: [...document.images].map(i => ({alt: i.alt, w: i.naturalWidth, h: i.naturalHeight,
                                                        shown: i.getBoundingClientRect().width})),
            })""")
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return seen


def test_report_shows_metric_table_and_plots_in_chromium(tmp_path, settings):
    shot = tmp_path / "eval-report.png"
    seen = _open(_run(tmp_path, settings), shot)
    metrics = seen["metrics"]
    assert "recall@10" in metrics and "abstention_accuracy" in metrics and "mrr" in metrics
    assert "0.5" in metrics  # recall@k over the two answerable questions: one of two gold clauses found
    assert len(seen["images"]) >= 1, "no plot in the report"
    for image in seen["images"]:
        assert image["w"] > 100 and image["h"] > 100 and image["shown"] > 100, image  # decoded and laid out
    assert shot.stat().st_size > 10_000

    # REGCITE_EVAL_REPORT=RUN/report.html: the same checks on a real run, whose view becomes the docs screenshot.
    real = os.environ.get("REGCITE_EVAL_REPORT")
    if real:
        seen = _open(Path(real).resolve(), tmp_path / "real.png")
        assert "recall@10" in seen["metrics"] and all(i["w"] > 100 for i in seen["images"]) and seen["images"]
        shutil.copyfile(tmp_path / "real.png", SCREENSHOT)
