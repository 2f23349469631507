"""Chinese numerals, as statutes number their articles and state their quantities: 二十九 -> 29, 一万五千 -> 15000."""
from __future__ import annotations

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
LARGE_UNITS = {"万": 10**4, "亿": 10**8}
# The characters of a Chinese numeral, for building patterns: "[" + NUMERAL_CHARS + "]+". Article and item numbers
# (第二十九条, （三）) never reach 万, so patterns for them use ORDINAL_CHARS and match nothing wider.
ORDINAL_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS)
NUMERAL_CHARS = ORDINAL_CHARS + "".join(LARGE_UNITS)


def chinese_number(text: str) -> int | None:
    """The value of a Chinese numeral ("二十九", "一百零三", "三千万") or of decimal digits; None for anything else.

    A unit without a digit before it counts once ("十五" is 15), as in ordinary writing."""
    if text.isdecimal():  # "29", and the full-width "２９" a question may carry
        return int(text)
    if not text:
        return None
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in SMALL_UNITS:
            section += (1 if digit is None else digit) * SMALL_UNITS[ch]
            digit = None
        elif ch in LARGE_UNITS:
            total += (section + (digit or 0)) * LARGE_UNITS[ch]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)
