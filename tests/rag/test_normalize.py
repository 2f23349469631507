"""normalize_text: NFKC, the CJK radicals pypdf emits, ligatures, invisible characters, line ends."""
from __future__ import annotations

import pytest

from rag.normalize import normalize_text


@pytest.mark.parametrize("raw, expected", [
    ("第⼆⼗九条", "第二十九条"),  # Kangxi radicals U+2F06/U+2F17: NFKC
    ("中华⼈⺠共和国", "中华人民共和国"),  # U+2EA0 from the CJK Radicals Supplement: our mapping
    ("部⻔ ⻛险 ⻅ ⻓期", "部门 风险 见 长期"),
    ("客⼾", "客户"),  # Kangxi DOOR: NFKC would give the traditional 戶
    ("speciﬁc counteroﬀer", "specific counteroffer"),
    ("12\u00a0CFR", "12 CFR"),
    ("non\u00adrefundable", "nonrefundable"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("ＡＢＣ１２３", "ABC123"),
])
def test_normalize_fixes_what_pdf_extraction_breaks(raw, expected):
    assert normalize_text(raw) == expected


def test_chinese_full_width_punctuation_is_kept_as_written():
    text = "有下列情形之一的，金融机构应当开展客户尽职调查：（一）开立账户；"
    assert normalize_text(text) == text


def test_normalize_is_idempotent_and_leaves_plain_ascii_alone():
    for text in ("§ 1002.9(a)(1)(iii) 30 days", "第二十九条（一）", "Art. 17(1)(b)"):
        once = normalize_text(text)
        assert normalize_text(once) == once
    assert normalize_text("plain ascii text.") == "plain ascii text."
