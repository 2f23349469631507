"""Pure rendering: escaping, highlighting, cards, banners, the Markdown memo."""
from __future__ import annotations

import pytest

from rag.types import CharSpan, Verdict
from tests.ui.conftest import abstained_answer, citation, regb_answer
from ui import render


@pytest.mark.parametrize("raw, shown", [
    ("<script>alert(1)</script>", r"\<script\>alert\(1\)\<\/script\>"),
    (":red[boom] :material/home:", r"\:red\[boom\] \:material\/home\:"),
    ("costs $5 and $6", r"costs \$5 and \$6"),
    ("1. not a list\n# not a heading", r"1\. not a list \# not a heading"),
    ("第二十九条 有下列情形之一的", "第二十九条 有下列情形之一的"),
])
def test_md_escape_leaves_no_markup_active(raw, shown):
    assert render.md_escape(raw) == shown


def test_support_mask_marks_shared_words_and_numbers_not_filler():
    quote = "within 30 days after taking adverse action on an existing account"
    md = render.highlight(quote, render.support_mask(quote, "Notify within 30 days of adverse action on an account."))
    assert md == ":orange-background[within 30 days] after taking :orange-background[adverse action] on an existing :orange-background[account]"


def test_support_mask_works_on_chinese_by_character_pairs():
    quote = "有下列情形之一的，金融机构应当开展客户尽职调查"
    md = render.highlight(quote, render.support_mask(quote, "金融机构应当开展尽职调查。"))
    assert md == "有下列情形之一的，:orange-background[金融机构应当开展]客户:orange-background[尽职调查]"


def test_cards_group_citations_by_clause_with_worst_verdict(tmp_path):
    from tests.ui.conftest import build_index
    from rag.config import load_settings

    docs = build_index(load_settings(env={}, overrides={"data_dir": tmp_path}))
    cards = render.cards_of(regb_answer(docs))
    assert [(c.number, c.reference, c.verdict, c.sentences) for c in cards] == [
        (1, "12 CFR 1002.9(a)(1)(iii)", Verdict.SUPPORTED, (1,)),
        (2, "12 CFR 1002.9(a)(1)", Verdict.UNSUPPORTED, (1, 2)),
    ]
    assert cards[0].pages == "p. 2"


def test_verdicts_differ_in_colour_icon_and_words():
    badges = {v: render.verdict_badge(v) for v in Verdict}
    assert len({b.split("-badge")[0] for b in badges.values()}) == 3
    assert len({b.split(":material/")[1].split(":")[0] for b in badges.values()}) == 3


def test_banner_for_abstention_and_fallback(tmp_path):
    level, text = render.banner_of(abstained_answer("q"))
    assert level == "warning" and "abstains" in text
    from dataclasses import replace
    from tests.ui.conftest import build_index
    from rag.config import load_settings

    answer = regb_answer(build_index(load_settings(env={}, overrides={"data_dir": tmp_path})))
    assert render.banner_of(answer) is None
    level, text = render.banner_of(replace(answer, backend="extractive", fallback_reason="connection refused"))
    assert level == "info" and "connection refused" in text and "extractively" in text


def test_markdown_memo_lists_sources_with_pages_and_verdicts(tmp_path):
    from tests.ui.conftest import build_index
    from rag.config import load_settings

    memo = render.answer_to_markdown(regb_answer(build_index(load_settings(env={}, overrides={"data_dir": tmp_path}))))
    assert "existing account. [1] [2]" in memo
    assert ("1. **12 CFR 1002.9(a)(1)(iii)**, p. 2: Regulation B (sample excerpt) (version ab12cd34ef56ab78, "
            "effective dates unknown, sample_12cfr1002_excerpt_20220101.pdf); supported") in memo
    assert "2. **12 CFR 1002.9(a)(1)**, p. 2" in memo and "unsupported, support 0.90" in memo
    assert "_Answered by openai / Qwen2.5-7B-Instruct in 1.25 s" in memo


def test_context_marks_the_clause_and_greys_its_neighbours():
    text = "Before it. (iii) 30 days after adverse action; or (iv) 90 days."
    start = text.index("(iii)")
    span = CharSpan(start, text.index(" (iv)"))
    md = render.context_md(text, span, quote="30 days after adverse action", radius=100)
    assert md == (":gray[Before it\\.]\n\n**▶** \\(iii\\) :blue-background[30 days after adverse action]\\; or\n\n"
                  ":gray[\\(iv\\) 90 days\\.]")


def test_as_of_and_notes_are_shown_once_and_escaped(tmp_path):
    from dataclasses import replace
    from datetime import date
    from tests.ui.conftest import build_index
    from rag.config import load_settings

    answer = replace(regb_answer(build_index(load_settings(env={}, overrides={"data_dir": tmp_path}))),
                     as_of=date(2017, 1, 1),
                     notes=("The effective dates of Regulation B (sample excerpt) are unknown: it is cited as indexed, "
                            "whatever the date asked.",))
    assert render.as_of_md(answer) == ":blue-badge[:material/event: As of 2017-01-01]"
    assert render.notes_md(answer).startswith("The effective dates of Regulation B \\(sample excerpt\\) are unknown\\:")
    memo = render.answer_to_markdown(answer)
    assert "## Answer\n\n_As of 2017-01-01._\n" in memo and "> The effective dates of Regulation B" in memo
    assert render.cards_of(answer)[0].effective == "effective dates unknown"

    missing = "Part 900 has no version in force on 2005-01-01; the earliest indexed is effective 2016-07-11"
    abstained = replace(abstained_answer("q"), text=f"{missing}. The indexed documents do not say.", notes=(missing,))
    level, text = render.banner_of(abstained)
    assert level == "warning" and text.startswith("Part 900 has no version in force on 2005\\-01\\-01")
    assert render.notes_md(abstained) == ""  # the banner said it
