"""The folder layout is the architecture: rag is the core, ingest/ui/evals sit on it, regcite dispatches above all."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("ingest", "ui", "evals", "api")
# What each package may import of ours; nothing imports regcite.
ALLOWED = {"rag": {"rag"}, **{layer: {"rag", layer} for layer in LAYERS}}


def _our_imports(path: Path) -> set[str]:
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops & {"rag", "regcite", *LAYERS}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package):
    offending = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in sorted((ROOT / package).rglob("*.py"))
        if (bad := _our_imports(path) - ALLOWED[package])
    }
    assert not offending, f"{package} imports across layers: {offending}"


def test_importing_the_core_and_the_cli_loads_no_heavy_library():
    code = ("import sys, rag, rag.config, rag.types, rag.retrieve, rag.answer, regcite.cli; "
            "print(sorted(m for m in ('torch', 'faiss', 'transformers', 'streamlit', 'sentence_transformers', "
            "'llama_index') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_llm_backends_know_nothing_of_citations_or_verification():
    """Backends get a typed prompt; parsing markers and checking citations live once, outside them."""
    offending = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path)
                                            if m.startswith(("rag.cite", "rag.verify", "rag.answer")))
        for path in sorted((ROOT / "rag" / "llm").rglob("*.py"))
    }
    assert not {k: v for k, v in offending.items() if v}, offending


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    return names


def test_only_the_composition_root_builds_a_retriever_over_an_opened_index():
    """rag/pipeline.py opens the snapshot and builds the retriever; every entry point goes through it."""
    roots = [ROOT / p for p in ("rag", "ingest", "ui", "evals", "api", "regcite", "benchmarks")]
    builders = sorted(str(path.relative_to(ROOT)) for root in roots for path in root.rglob("*.py")
                      if "Retriever" in _calls(path))
    assert builders == ["rag/pipeline.py"], builders
    openers_that_also_build = [p for p in builders if "open_index" in _calls(ROOT / p) or "open_index" in
                               (ROOT / p).read_text(encoding="utf-8")]
    assert openers_that_also_build == ["rag/pipeline.py"]
