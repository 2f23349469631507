"""Ask page in AppTest: answers render with their citation cards, banners and sources."""
from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from rag.types import Filters
from tests.ui.conftest import REAL_WARM_UP, ROOT, abstained_answer, build_index, regb_answer
from ui import render

APP = str(ROOT / "ui" / "app.py")


@pytest.fixture(autouse=True)
def audit_key(tmp_path, monkeypatch):
    """Every answer shown is recorded; the chain's signing key stays in the test's folder."""
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))


def _answers(monkeypatch, fake) -> None:
    """The served pipeline answers with fake(settings, question, filters, on_token); the page records it as ever."""
    monkeypatch.setattr("rag.pipeline.Pipeline.answer",
                        lambda self, question, filters=Filters(), on_token=None: fake(self.settings, question, filters,
                                                                                       on_token))


def _ask(question: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.chat_input[0].set_value(question).run()
    return at


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.subheader] + [c.value for c in at.caption]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(parts)


def test_question_renders_answer_and_citation_cards_with_references(app_env, monkeypatch):
    docs = build_index(app_env)
    answer = regb_answer(docs)
    seen = {}

    def fake_answer(settings, question, filters, on_token=None):
        seen["question"], seen["filters"] = question, filters
        on_token("A creditor must notify")
        return answer

    _answers(monkeypatch, fake_answer)
    at = _ask(answer.question)

    assert not at.exception
    assert seen["question"] == answer.question
    headers = [s.value for s in at.subheader]
    assert headers == ["[1] 12 CFR 1002\\.9\\(a\\)\\(1\\)\\(iii\\)", "[2] 12 CFR 1002\\.9\\(a\\)\\(1\\)"]
    assert [s.proto.anchor for s in at.subheader] == ["cite-1-1", "cite-1-2"]  # turn 1, cards 1 and 2
    body = _text(at)
    assert "within 30 days after taking adverse action" in body
    assert "[\\[1\\]](#cite-1-1)[\\[2\\]](#cite-1-2)" in body  # markers link to their cards
    assert ":green-badge[:material/check_circle: Supported]" in body  # card 1
    assert ":red-badge[:material/cancel: Unsupported]" in body  # card 2 and the flagged sentence
    assert "p. 2" in body and "Regulation B \\(sample excerpt\\)" in body
    # each card names its version's dates (this hand-built one has none) and file
    assert ":gray-badge[:material/event: effective dates unknown]" in body
    assert ":material/draft: sample\\_12cfr1002\\_excerpt\\_20220101\\.pdf" in body
    # the words the sentence shares with the quote are highlighted; filler words between them are not
    assert "\\(iii\\) :orange-background[30 days after taking adverse action] on an :orange-background[existing account]" in body
    assert "openai · Qwen2\\.5\\-7B\\-Instruct" in body
    assert any("Model reasoning" in e.label for e in at.expander)
    assert at.session_state["ask_turns"] == [answer]


def test_open_source_shows_clause_in_context_and_marked_page(app_env, monkeypatch):
    docs = build_index(app_env)
    _answers(monkeypatch, lambda *a, **k: regb_answer(docs))
    at = _ask("adverse action on an existing account")

    body = _text(at)
    assert "**▶** " in body and "existing account" in body
    images = at.get("image")
    assert len(images) == 2, "each PDF citation card has its page image"
    assert "page 2 of 3 (detail): the cited passage is marked" in str(images[0].proto)
    assert images[0].proto.imgs[0].url.endswith(".png")  # not JPEG: small print stays sharp

    at.toggle(key="whole-0-1").set_value(True).run()
    assert "page 2 of 3: the cited passage is marked" in str(at.get("image")[0].proto)


def test_abstention_shows_banner_and_no_cards(app_env, monkeypatch):
    build_index(app_env)
    _answers(monkeypatch, lambda s, q, f, on_token=None: abstained_answer(q))
    at = _ask("证券公司的净资本不得低于多少？")

    assert not at.exception
    assert len(at.warning) == 1 and "abstains" in at.warning[0].value
    assert not at.subheader


def test_filters_reach_the_answerer(app_env, monkeypatch):
    docs = build_index(app_env, with_hostile=True)
    seen = {}

    def fake_answer(settings, question, filters, on_token=None):
        seen["filters"] = filters
        return regb_answer(docs)

    _answers(monkeypatch, fake_answer)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.multiselect(key="f_docs").set_value(["12 CFR 1002"])
    at.multiselect(key="f_jur").set_value(["US"])
    at.run()
    at.chat_input[0].set_value("q").run()
    assert seen["filters"].doc_ids == ("12 CFR 1002",)
    assert seen["filters"].jurisdictions == ("US",)
    assert seen["filters"].as_of == date.today()  # answers speak for today unless the user picks another day


def test_no_index_says_where_to_add_documents(app_env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "No documents are indexed yet" in at.info[0].value
    assert at.chat_input[0].disabled


def test_fallback_banner_reasoning_fold_and_markdown_download(app_env, monkeypatch):
    from dataclasses import replace

    docs = build_index(app_env)
    answer = replace(regb_answer(docs), backend="extractive", model="",
                     fallback_reason="openai backend unavailable (connection refused)")
    _answers(monkeypatch, lambda *a, **k: answer)
    at = _ask(answer.question)

    assert not at.exception
    assert len(at.info) == 1 and "connection refused" in at.info[0].value and "extractively" in at.info[0].value
    reasoning = next(e for e in at.expander if "Model reasoning" in e.label)
    assert reasoning.proto.expanded is False  # folded away until asked for
    assert "\\(iii\\) applies" in "\n".join(m.value for m in reasoning.markdown)
    assert "(iii) applies" not in render.answer_body_md(answer, render.cards_of(answer))  # never in the answer
    memo = at.get("download_button")[0].proto
    assert memo.label == "Download as Markdown"
    code = at.get("code")[0].value  # the same memo in the "Copy as Markdown" popover
    assert code.startswith("## Question\n\nHow long does a creditor") and "1. **12 CFR 1002.9(a)(1)(iii)**, p. 2" in code


def test_meta_line_names_backend_model_and_latency_by_stage(app_env, monkeypatch):
    docs = build_index(app_env)
    _answers(monkeypatch, lambda *a, **k: regb_answer(docs))
    at = _ask("q")
    line = next(c.value for c in at.caption if ":material/timer:" in c.value)
    assert line == (":material/memory: openai · Qwen2\\.5\\-7B\\-Instruct · :material/timer: 1.25 s "
                    "(retrieval 40 ms, generation 1.20 s)")


def test_each_turn_has_its_own_card_anchors(app_env, monkeypatch):
    docs = build_index(app_env)
    _answers(monkeypatch, lambda *a, **k: regb_answer(docs))
    at = _ask("first")
    at.chat_input[0].set_value("second").run()
    assert [s.proto.anchor for s in at.subheader] == ["cite-1-1", "cite-1-2", "cite-2-1", "cite-2-2"]


@pytest.mark.slow
def test_real_answer_over_the_sample_corpus_cites_reg_b_on_page_2(app_env, monkeypatch):
    """No fakes: the sample corpus ingested by the real pipeline, answered by the configured (extractive) backend."""
    from ingest.pipeline import ingest_paths

    warmed = []  # the real warm-up, watched
    monkeypatch.setattr("ui.resources.warm_up", lambda s, idx: (warmed.append(idx.generation), REAL_WARM_UP(s, idx)))
    report = ingest_paths([ROOT / "corpus" / "regulations"], app_env, progress=False)
    assert report.added == 3 and not report.skipped
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert warmed == [1]  # the models load when the page opens, before any question
    at.chat_input[0].set_value(
        "How long does a creditor have to notify an applicant after taking adverse action on an existing account?").run()

    assert not at.exception
    assert at.subheader[0].value == "[1] 12 CFR 1002\\.9\\(a\\)\\(1\\)\\(iii\\)"
    body = _text(at)
    assert "30 days after taking adverse action on an existing account" in body
    assert ":material/description: p. 2]" in body and ":green-badge[:material/check_circle: Supported]" in body
    assert at.session_state["ask_turns"][0].backend == "extractive"
