"""The folder layout is the architecture: rag is the core, ingest/ui/evals sit on it, regcite dispatches above all."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("ingest", "ui", "evals")
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
