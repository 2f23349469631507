"""BM25 tokenisation (stemmed English, kept modal words, Han unigrams + bigrams, NFKC) and masked top-k."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.lexical import LexicalIndex, terms, tokenize


@pytest.mark.parametrize("text, tokens", [
    ("Creditors notified the applicants", ["creditor", "notifi", "applic"]),
    ("notify notifies notifying", ["notifi"] * 3),
    ("Adverse-action notices", ["advers", "action", "notic"]),
    ("30 days under 2016/679", ["30", "day", "under", "2016", "679"]),  # numbers are kept whole, not stemmed
])
def test_english_words_are_lower_cased_and_stemmed(text, tokens):
    assert tokenize(text) == tokens


def test_stopwords_drop_but_words_that_change_a_rule_stay():
    assert tokenize("The creditor must not and may only notify") == ["creditor", "must", "not", "may", "onli", "notifi"]
    assert tokenize("of the to is which") == []


@pytest.mark.parametrize("text, tokens", [
    ("净资本", ["净", "资", "本", "净资", "资本"]),
    ("本法", ["本", "法", "本法"]),
    ("条", ["条"]),
    ("第二十九条", ["第", "二", "十", "九", "条", "第二", "二十", "十九", "九条"]),
])
def test_han_runs_give_unigrams_and_bigrams(text, tokens):
    assert tokenize(text) == tokens


def test_han_runs_split_at_punctuation_and_latin():
    assert tokenize("客户，资料GDPR条款") == ["客", "户", "客户", "资", "料", "资料", "gdpr", "条", "款", "条款"]


@pytest.mark.parametrize("raw, plain", [
    ("ＧＤＰＲ Ａｒｔｉｃｌｅ １７", "GDPR Article 17"),  # full-width forms
    ("ﬁnancial counteroﬀer", "financial counteroffer"),  # ligatures as pypdf gives them
    ("第⼆⼗九条", "第二十九条"),  # Kangxi radicals (U+2F06, U+2F17) as Chromium-printed PDFs give them
])
def test_nfkc_makes_compatibility_forms_match_plain_text(raw, plain):
    assert tokenize(raw) == tokenize(plain)


def test_indexed_terms_add_neighbouring_word_pairs_to_the_tokens():
    got = terms("Notice of adverse action")
    assert [t for t in got if "_" not in t] == tokenize("Notice of adverse action")
    assert "advers_action" in got and "notic_advers" in got  # the stopword between does not break a pair


TEXTS = [
    "A creditor shall notify an applicant of action taken within 30 days.",  # 0
    "The creditor shall retain records for 25 months.",  # 1
    "Adverse action notices must state specific reasons.",  # 2
    "金融机构应当按照规定建立客户尽职调查制度。",  # 3
    "Notification of adverse action on an existing account within 30 days.",  # 4
    "The data subject shall have the right to erasure.",  # 5
]


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex(TEXTS)


def test_scores_cover_every_text_and_are_zero_without_a_shared_token(lexical):
    scores = lexical.scores("notify within 30 days")
    assert scores.shape == (len(TEXTS),)
    assert scores[0] > 0 and scores[4] > 0
    assert scores[3] == 0 and scores[5] == 0


def test_top_ranks_by_score_and_keeps_only_matches(lexical):
    top = lexical.top("adverse action notices", k=10)
    assert [p for p, _ in top] == [2, 4, 0]  # 0 shares only "action"
    assert all(s > 0 for _, s in top)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)


def test_top_under_a_mask_returns_only_allowed_positions_still_up_to_k(lexical):
    allowed = np.zeros(len(TEXTS), dtype=bool)
    allowed[[1, 4]] = True
    unmasked = lexical.top("creditor 30 days", k=1)
    masked = lexical.top("creditor 30 days", k=2, allowed=allowed)
    assert unmasked[0][0] == 0
    assert [p for p, _ in masked] == [4, 1]
    assert dict(masked)[4] == pytest.approx(dict(lexical.top("creditor 30 days", k=6))[4])  # scores as unmasked
    assert lexical.top("creditor 30 days", k=3, allowed=np.zeros(len(TEXTS), dtype=bool)) == []


def test_chinese_query_finds_the_chinese_text_through_bigrams(lexical):
    assert lexical.top("客户尽职调查", k=3)[0][0] == 3


@pytest.mark.parametrize("query", ["", "the of to", "zzzz unknownword", "。，"])
def test_queries_without_known_tokens_find_nothing(lexical, query):
    assert lexical.top(query, k=3) == []
    assert not lexical.scores(query).any()


def test_an_empty_index_answers_empty():
    empty = LexicalIndex([])
    assert empty.size == 0 and empty.top("creditor", k=5) == [] and empty.scores("creditor").shape == (0,)


# --- saved with a generation, memory-mapped by readers -------------------------------------------------------------

@pytest.fixture
def saved(lexical, tmp_path):
    folder = tmp_path / "lexical-1"
    return folder, lexical.save(folder)


@pytest.mark.parametrize("query", ["notify within 30 days", "adverse action notices", "客户尽职调查", "right to erasure",
                                   "zzzz"])
def test_a_saved_index_loads_memory_mapped_and_scores_exactly_as_built(lexical, saved, query):
    folder, sha = saved
    loaded = LexicalIndex.load(folder, len(TEXTS), sha)
    assert isinstance(loaded._data, np.memmap) and isinstance(loaded._indptr, np.memmap)
    np.testing.assert_array_equal(loaded.scores(query), lexical.scores(query))
    assert loaded.top(query, k=3) == lexical.top(query, k=3)


def test_a_saved_index_that_does_not_match_is_not_trusted(saved, monkeypatch):
    import rag.lexical as lexical_module

    folder, sha = saved
    assert LexicalIndex.load(folder, len(TEXTS) + 1, sha) is None  # another generation's clause count
    assert LexicalIndex.load(folder, len(TEXTS), "0" * 64) is None  # not what the catalog recorded
    assert LexicalIndex.load(folder.with_name("missing"), len(TEXTS), sha) is None
    monkeypatch.setattr(lexical_module, "TERMS_VERSION", lexical_module.TERMS_VERSION + 1)
    assert LexicalIndex.load(folder, len(TEXTS), sha) is None  # tokenised by other rules
    monkeypatch.undo()
    data = folder / "data.npy"
    data.write_bytes(data.read_bytes()[:-8] + b"\0" * 8)
    assert LexicalIndex.load(folder, len(TEXTS), sha) is None  # damaged on disk


def test_an_empty_index_saves_and_loads(tmp_path):
    sha = LexicalIndex([]).save(tmp_path / "empty")
    loaded = LexicalIndex.load(tmp_path / "empty", 0, sha)
    assert loaded.size == 0 and loaded.top("creditor", k=5) == []


def test_a_reader_of_a_saved_index_imports_neither_bm25s_nor_scipy(saved):
    import subprocess
    import sys

    folder, sha = saved
    probe = (f"import sys; from rag.lexical import LexicalIndex\n"
             f"index = LexicalIndex.load(__import__('pathlib').Path({str(folder)!r}), {len(TEXTS)}, {sha!r})\n"
             "print(index.top('notify within 30 days', k=2)[0][0], "
             "','.join(m for m in ('bm25s', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0"]  # the best text, and no module listed after it
