"""Context numbering and budget, the prompt, and markers parsed into sentences with citations."""
from __future__ import annotations

import pytest

from rag.cite import Check, cite_sentences, is_abstention, parse_markers, render_answer
from rag.context import build_context, estimate_tokens
from rag.prompt import ABSTAIN, build_prompt, quote_code
from rag.text import split_sentences
from rag.types import Verdict
from tests.rag.answer_fixtures import LexicalRetriever, hit

ITEM = "12 CFR 1002.9(a)(1)(iii)"
PARENT = "12 CFR 1002.9(a)(1)"


def _context(*refs, budget=3000):
    return build_context([hit(r) for r in refs], budget_tokens=budget, lead_in=LexicalRetriever().parent_lead_in)


def test_context_numbers_blocks_with_reference_document_pages_and_headings():
    ctx = _context(ITEM, "12 CFR 1002.12(b)(1)")
    first = ctx.blocks[0].text.split("\n")
    assert first[0] == f"[1] {ITEM} — Equal Credit Opportunity Act (Regulation B) (p. 14)"
    assert first[1] == "Headings: § 1002.9 Notifications."
    assert ctx.blocks[1].text.startswith("[2] 12 CFR 1002.12(b)(1) — ")
    assert ctx.block(2).hit.clause.reference == "12 CFR 1002.12(b)(1)" and ctx.block(3) is None


def test_a_child_retrieved_alone_carries_its_parents_lead_in():
    block = _context(ITEM).blocks[0]
    assert "Lead-in: (1) When notification is required. A creditor shall notify an applicant of action taken " \
           "within:" in block.text


def test_no_lead_in_when_the_parent_is_retrieved_too():
    ctx = _context(ITEM, PARENT)
    assert "Lead-in:" not in ctx.blocks[0].text
    assert ctx.blocks[0].parent_lead_in.endswith("within:")  # verification still reads it


def test_context_stays_within_the_token_budget_and_counts_what_was_left_out():
    refs = [ITEM, PARENT, "12 CFR 1002.9(a)(1)(i)", "12 CFR 1002.9(a)(1)(ii)", "12 CFR 1002.12(b)(1)"]
    full = _context(*refs)
    small = _context(*refs, budget=full.tokens // 2)
    assert small.tokens <= full.tokens // 2
    assert small.left_out == len(refs) - len(small.blocks) > 0
    assert [b.number for b in small.blocks] == list(range(1, len(small.blocks) + 1))


def test_an_over_long_first_clause_is_cut_to_fit_rather_than_dropped():
    ctx = _context("12 CFR 1002.12(b)(1)", budget=40)
    assert len(ctx.blocks) == 1 and ctx.blocks[0].text.endswith("…") and ctx.tokens <= 40


@pytest.mark.parametrize("text, tokens", [("abcd" * 10, 10), ("反洗钱法", 4), ("", 0)])
def test_token_estimate_is_cheap_and_cjk_aware(text, tokens):
    assert estimate_tokens(text) == tokens


def test_the_prompt_asks_for_markers_and_the_exact_abstention_phrase_and_carries_its_blocks_typed():
    ctx = _context(ITEM, "12 CFR 1002.12(b)(1)")
    prompt = build_prompt("  How long? ", ctx)
    system, user = prompt.messages
    assert "[2]" in system.content and ABSTAIN in system.content
    code = quote_code("How long?", ctx)
    assert user.content == (f"Context, quoted in <clause-{code}> tags:\n"
                            + "\n\n".join(f'<clause-{code} n="{b.number}">\n{b.text}\n</clause-{code}>' for b in ctx.blocks)
                            + "\n\nQuestion: How long?")
    assert prompt.question == "How long?" and prompt.context is ctx
    blocks = prompt.context.blocks
    assert [(b.number, b.hit.clause.reference) for b in blocks] == [(1, ITEM), (2, "12 CFR 1002.12(b)(1)")]
    assert blocks[0].lead_in.endswith("within:") and blocks[0].body.startswith("(iii) 30 days")
    assert blocks[0].text.endswith(blocks[0].body)  # the body is what the model reads, word for word


@pytest.mark.parametrize("text, expected", [
    ("Creditors have 30 days [1]. Records are kept 25 months [2].",
     [("Creditors have 30 days.", (1,)), ("Records are kept 25 months.", (2,))]),
    ("Creditors have 30 days. [1] Records are kept. [2]", [("Creditors have 30 days.", (1,)), ("Records are kept.", (2,))]),
    ("Thirty days [1][2].", [("Thirty days.", (1, 2))]),
    ("Thirty days [1, 2].", [("Thirty days.", (1, 2))]),
    ("应当至少保存十年【1】。", [("应当至少保存十年。", (1,))]),
    ("See e.g. the U.S. rule [1].", [("See e.g. the U.S. rule.", (1,))]),
    ("- Thirty days [1]\n- Ninety days [2]", [("Thirty days", (1,)), ("Ninety days", (2,))]),
])
def test_markers_attach_to_their_sentence(text, expected):
    drafts, dropped = parse_markers(text, 2)
    assert [(d.text, d.markers) for d in drafts] == expected and dropped == 0


def test_markers_pointing_at_nothing_retrieved_are_removed_and_counted():
    drafts, dropped = parse_markers("Thirty days [1][7]. Ninety days [9].", 2)
    assert [(d.text, d.markers) for d in drafts] == [("Thirty days.", (1,)), ("Ninety days.", ())]
    assert dropped == 2


def test_a_sentence_without_citation_is_unsupported_and_verdict_is_the_worst_citation():
    ctx = _context(ITEM, PARENT)
    verdicts = {1: Verdict.SUPPORTED, 2: Verdict.PARTIAL}

    def check(sentence, block):
        return Check("quote", verdicts[block.number], 0.5)

    sentences = cite_sentences(parse_markers("Thirty days [1][2]. No marker here.", 2)[0], ctx, check)
    assert sentences[0].verdict is Verdict.PARTIAL
    c = sentences[0].citations[0]
    assert (c.reference, str(c.page_span), c.version_id, c.quote) == (ITEM, "p. 14", "regb000000000001", "quote")
    assert sentences[1].verdict is Verdict.UNSUPPORTED and sentences[1].problems == ("no citation",)
    assert render_answer(sentences) == "Thirty days [1][2]. No marker here."


def test_abstention_phrase_is_recognised_loosely():
    assert is_abstention("  the indexed documents  do not say ")
    assert not is_abstention("The documents say 30 days.")


def test_sentence_split_handles_chinese_and_abbreviations():
    assert split_sentences("第一句。第二句！Art. 17 applies. Done.") == ["第一句。", "第二句！", "Art. 17 applies.", "Done."]
