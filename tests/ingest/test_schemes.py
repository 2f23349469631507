"""The schemes table, the heading trail, and an ingest import graph without loops."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ingest.clauses import split_clauses
from ingest.identify import identify
from ingest.lines import enter_heading
from ingest.load import LoadedText
from ingest.schemes import HEADINGS, SCHEMES, parser_for

INGEST = Path(__file__).resolve().parents[2] / "ingest"

SAMPLES = {
    "us-cfr": "§ 900.1 Scope.\n(a) This part applies.\n§ 900.2 Definitions.\n(a) Terms.",
    "eu": "Article 1\nSubject-matter\n1. This Regulation applies.\nArticle 2\nScope\nArticle 3\nTerritory",
    "prc": "反洗钱法\n第一条 为了预防洗钱活动。\n第二条 本法所称洗钱。\n第三条 反洗钱工作。",
    "headings": "Annual review\nFindings\nThe bank kept its records.",
}


def _module_of(path: Path) -> str:
    parts = path.relative_to(INGEST.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _ingest_imports(path: Path) -> set[str]:
    """Modules of ingest this file imports anywhere, function bodies included (a lazy import still loops)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ingest"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ingest")}
    return found


def test_ingest_modules_import_each_other_without_a_loop():
    files = {_module_of(p): p for p in INGEST.rglob("*.py")}
    graph = {m: {i for i in _ingest_imports(p) if i in files and i != m} for m, p in files.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(m: str) -> None:
        assert m not in visiting, f"import loop: {' -> '.join(visiting[visiting.index(m):] + [m])}"
        if m in done:
            return
        visiting.append(m)
        for dep in sorted(graph[m]):
            visit(dep)
        visiting.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


@pytest.mark.parametrize("scheme", sorted(SAMPLES))
def test_identify_names_a_scheme_the_table_parses_with_its_own_parser(scheme):
    loaded = LoadedText(SAMPLES[scheme], (0,), "markdown", "t")
    info = identify(f"{scheme}.md", loaded)
    assert info.scheme == scheme
    assert parser_for(info.scheme) is SCHEMES[scheme]
    assert split_clauses(loaded, info, "v", 2400)


def test_every_parser_in_the_table_is_a_scheme_identify_can_name():
    assert set(SCHEMES) == set(SAMPLES)


def test_an_unknown_scheme_is_parsed_by_its_headings():
    assert parser_for("unheard-of") is SCHEMES[HEADINGS]


def test_a_heading_closes_deeper_ones_and_a_skipped_level_stays_empty():
    trail: list[str] = []
    assert enter_heading(trail, 0, "Part") == ("Part",)
    assert enter_heading(trail, 2, "Section") == ("Part", "Section")
    assert trail == ["Part", "", "Section"]
    # A heading at the skipped level closes the deeper one and fills the slot.
    assert enter_heading(trail, 1, "Subpart") == ("Part", "Subpart")
    assert enter_heading(trail, 0, "Next part") == ("Next part",)
