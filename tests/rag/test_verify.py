"""Verification: numbers in a sentence must be in the clause it cites; meaning must be close enough."""
from __future__ import annotations

import pytest

from rag.config import load_settings
from rag.context import build_context
from rag.errors import ModelUnavailable
from rag.text import overlap
from rag.types import Verdict
from rag.verify import Verifier, numbers_in
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


def _nli_folder(folder, logits: tuple[float, float, float]):
    """A tiny BERT cross-encoder whose head always outputs `logits` (contradiction, entailment, neutral): its
    verdicts are known in advance, so the test can say what verification must conclude from them."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted({w for w in "a creditor must notify the applicant within 30 days after taking adverse action on "
                    "an existing account ; or ( iii ) : shall of taken when notification is required 1 .".split()})
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3,
                        id2label={0: "contradiction", 1: "entailment", 2: "neutral"},
                        label2id={"contradiction": 0, "entailment": 1, "neutral": 2})
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(logits))
    model.save_pretrained(folder)
    return folder


WEAK = "Lenders get thirty days to reply."  # too few of the clause's words to be supported by overlap alone


@pytest.mark.slow
def test_an_entailing_nli_model_lifts_a_weakly_worded_sentence_to_supported(tmp_path):
    without = Verifier().check(WEAK, _block())
    settings = load_settings(env={}, overrides={"nli_model": str(_nli_folder(tmp_path / "nli", (0.0, 6.0, 0.0)))})
    check = Verifier(settings=settings).check(WEAK, _block())
    assert without.verdict is not Verdict.SUPPORTED
    assert check.verdict is Verdict.SUPPORTED and check.score > 0.99 and not check.problems


@pytest.mark.slow
def test_a_contradicting_nli_model_makes_the_sentence_unsupported_and_says_so(tmp_path):
    settings = load_settings(env={}, overrides={"nli_model": str(_nli_folder(tmp_path / "nli", (6.0, 0.0, 0.0)))})
    sentence = "A creditor must notify the applicant within 30 days after taking adverse action on an existing account."
    assert Verifier().check(sentence, _block()).verdict is Verdict.SUPPORTED
    check = Verifier(settings=settings).check(sentence, _block())
    assert check.verdict is Verdict.UNSUPPORTED and f"contradicted by {ITEM}" in check.problems


def test_a_hub_name_for_the_nli_model_is_refused_offline_instead_of_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))  # nothing cached: the name would download
    settings = load_settings(env={}, overrides={"nli_model": "cross-encoder/nli-deberta-v3-small"})
    with pytest.raises(ModelUnavailable, match=r"(?s)cannot load NLI model 'cross-encoder/nli-deberta-v3-small'.*"
                                               r"not in the Hugging Face cache.*downloads are off.*REGCITE_NLI_MODEL"):
        Verifier(settings=settings).check(WEAK, _block())
