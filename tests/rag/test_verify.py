"""Verification: numbers in a sentence must be in the clause it cites; meaning must be close enough."""
from __future__ import annotations

import pytest

from rag.context import build_context
from rag.types import Verdict
from rag.verify import Verifier, numbers_in, overlap
from tests.rag.answer_fixtures import LexicalRetriever, hit

ITEM = "12 CFR 1002.9(a)(1)(iii)"


def _block(ref=ITEM):
    return build_context([hit(ref)], lead_in=LexicalRetriever().parent_lead_in).blocks[0]


@pytest.mark.parametrize("text, numbers", [
    ("within 30 days", {"30"}), ("within thirty days", {"30"}), ("forty-five days", {"45"}),
    ("$1,000", {"1000"}), ("1000 dollars", {"1000"}), ("$1.5 million", {"1500000"}),
    ("5%", {"5"}), ("5 percent", {"5"}), ("百分之五", {"5"}), ("三十日内", {"30"}), ("至少保存十年", {"10"}),
    ("处五十万元以下罚款", {"500000"}), ("January 1, 2022", {"1", "2022"}),
    ("paragraph (1)(iii) applies to any one of them", set()), ("统一管理", set()), ("one year", {"1"}),
])
def test_numbers_are_normalised_across_digits_words_and_chinese_numerals(text, numbers):
    assert numbers_in(text) == numbers


def test_a_number_absent_from_the_cited_clause_makes_the_sentence_unsupported():
    check = Verifier().check("A creditor must notify the applicant within 45 days after adverse action on an "
                             "existing account.", _block())
    assert check.verdict is Verdict.UNSUPPORTED
    assert f"45 not in {ITEM}" in check.problems


@pytest.mark.parametrize("sentence", [
    "A creditor must notify the applicant within 30 days after taking adverse action on an existing account.",
    "A creditor shall notify an applicant within thirty days after taking adverse action on an existing account.",
])
def test_numbers_present_in_the_clause_and_close_wording_are_supported(sentence):
    check = Verifier().check(sentence, _block())
    assert check.verdict is Verdict.SUPPORTED, check.problems
    assert check.score >= 0.6 and check.problems == ()
    assert check.quote == "(iii) 30 days after taking adverse action on an existing account;"


def test_a_sentence_about_something_else_is_unsupported_with_a_low_score():
    check = Verifier().check("Banks must publish their capital ratios quarterly.", _block())
    assert check.verdict is Verdict.UNSUPPORTED and check.score < 0.35
    assert any("little support" in p for p in check.problems)


def test_chinese_numerals_in_the_clause_match_arabic_digits_in_the_sentence():
    block = _block("反洗钱法 第二十九条")
    assert Verifier().check("客户身份资料在业务关系结束后应当至少保存10年。", block).verdict is Verdict.SUPPORTED
    assert Verifier().check("客户身份资料应当至少保存5年。", block).verdict is Verdict.UNSUPPORTED


def test_overlap_is_the_share_of_sentence_tokens_found():
    assert overlap("adverse action account", "taking adverse action on an existing account") == 1.0
    assert overlap("", "anything") == 0.0


@pytest.mark.slow
def test_the_real_embedder_supports_a_paraphrase_that_shares_few_words():
    from rag.config import load_settings
    from rag.embed import load_embedder

    embedder = load_embedder(load_settings(env={}))
    sentence = "Lenders get a month to tell borrowers about unfavourable decisions on accounts they already hold."
    lexical = Verifier().check(sentence, _block())
    dense = Verifier(embedder).check(sentence, _block())
    assert dense.score > lexical.score
    assert dense.verdict in (Verdict.SUPPORTED, Verdict.PARTIAL)


@pytest.mark.slow
def test_an_nli_cross_encoder_runs_when_configured(tmp_path):
    """A tiny random BERT cross-encoder with NLI labels exercises the code path (no NLI model ships offline)."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted({w for w in "a creditor must notify the applicant within 30 days after taking adverse action on "
                    "an existing account ; or ( iii ) : shall of taken when notification is required 1 .".split()})
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3,
                        id2label={0: "contradiction", 1: "entailment", 2: "neutral"},
                        label2id={"contradiction": 0, "entailment": 1, "neutral": 2})
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    verifier = Verifier(nli_model=str(tmp_path))
    entail, contradict = verifier._nli_scores("30 days after taking adverse action", "a creditor has 30 days")
    assert 0.0 <= entail <= 1.0 and 0.0 <= contradict <= 1.0 and entail + contradict <= 1.0 + 1e-6
    check = verifier.check("A creditor must notify within 30 days after adverse action on an existing account.",
                           _block())
    assert check.verdict in (Verdict.SUPPORTED, Verdict.UNSUPPORTED)  # random weights: either, but no crash
    assert check.score >= 0.6 or any(p.startswith("contradicted") for p in check.problems)
