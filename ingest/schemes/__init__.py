"""The numbering schemes the clause parser knows, by the name identify gives a document: one table for both."""
from __future__ import annotations

from typing import Callable

from ingest.lines import Event, Line
from ingest.schemes import cfr, eu, headings, prc

# A parser reads a document's lines and says which start clauses and which are headings. It gets the doc_id
# (references are spelt from it) and whether the text is wrapped (PDF, plain text), where line ends say less.
Parser = Callable[[list[Line], str, bool], list[Event]]

US_CFR, EU, PRC = "us-cfr", "eu", "prc"
HEADINGS = "headings"  # no statute numbering: reports and filings, sectioned by their headings
SCHEMES: dict[str, Parser] = {US_CFR: cfr.parse, EU: eu.parse, PRC: prc.parse, HEADINGS: headings.parse}


def parser_for(scheme: str) -> Parser:
    """The scheme's parser; a name the table lacks falls back to headings, which any document has."""
    return SCHEMES.get(scheme, SCHEMES[HEADINGS])
