"""Share of RegML-labelled CFR paragraphs that the clause parser returns under the matching reference.

For every CFR part in ../shared/corpus (HTML and PDF under regulations/us-cfr, plus formats/us-cfr-html), read
the RegML XML with the same stem and check, for every labelled <paragraph>/<interpParagraph> with text, that
some clause carries the reference the label names and contains the paragraph's opening words.
Labels ending in unnumbered parts (p3, h2, defined-term names) name their nearest numbered ancestor, and
appendix labels (whose internal numbering the XML invents: h2, p56) are checked at appendix level: a clause
under "12 CFR 1002 Appendix C…" holding the text. Where the XML contradicts itself, a numbered comment whose label
does not extend the label of the interpParagraph it sits in (1030's "1030-8-c-Interp-2" inside "1030-8-c-2-Interp",
"…-4-b-1-ii-D-Interp-1-p1" inside "1030-4-b-2-ii-Interp"), the reference its nesting names also counts.
Run: python benchmarks/clause_coverage.py [--limit N]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
# Run as a script, benchmarks/ comes first on sys.path and its ingest.py would shadow the ingest package.
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "clause_coverage.json"
_MARKER = re.compile(r"^(?:[a-z]{1,4}|\d{1,3}|[A-Z]{1,2})$")
_UNNUMBERED = re.compile(r"^(?:p\d+|h\d+)$")
_SPACE = re.compile(r"\s+")
SNIPPET = 40  # characters (whitespace removed) of a paragraph's opening that must appear in its clause


@dataclass(frozen=True)
class Label:
    label: str
    reference: str
    exact: bool  # False: the reference names an ancestor or the appendix; clauses under it also count
    snippet: str
    nested_reference: str = ""  # the reference the XML's nesting gives a mislabelled comment (module docstring)


def label_reference(label: str) -> tuple[str, bool]:
    """'1002-9-a-1-i' -> ('12 CFR 1002.9(a)(1)(i)', True); see the module docstring for the other shapes."""
    part, *rest = label.split("-")
    doc = f"12 CFR {part}"
    if "Interp" in rest:
        k = rest.index("Interp")
        pre, post = rest[:k], rest[k + 1:]
        if not pre:
            target = "I"
        elif re.fullmatch(r"[A-Z]{1,2}", pre[0]):
            target = f"app. {pre[0]}"
        else:
            markers = _leading_markers(pre[1:])
            target = pre[0] + "".join(f"({m})" for m in markers)
        comment = _leading_markers([p for p in post if not _UNNUMBERED.match(p)])
        exact = len(comment) == len([p for p in post if not _UNNUMBERED.match(p)]) and bool(comment)
        if not comment:
            return f"{doc} Comment {target}", False
        return f"{doc} Comment {target}-{comment[0]}" + "".join(f".{c}" for c in comment[1:]), exact
    if rest and re.fullmatch(r"[A-Z]{1,2}\d*|MS|MC|[A-Z]{1,2}\d*\(\w+\)", rest[0]):
        return f"{doc} Appendix {re.sub(r'[^A-Z]', '', rest[0]) or rest[0]}", False
    section = rest[0] if rest else ""
    markers = _leading_markers(rest[1:])
    ref = f"{doc}.{section}" + "".join(f"({m})" for m in markers)
    return ref, len(markers) == len(rest) - 1


def _leading_markers(parts: list[str]) -> list[str]:
    out = []
    for p in parts:
        if _UNNUMBERED.match(p) or not _MARKER.match(p):
            break
        out.append(p)
    return out


def labels_of(xml_path: Path) -> list[Label]:
    from lxml import etree

    from rag.normalize import normalize_text

    tree = etree.parse(str(xml_path))
    out = []
    for el in tree.iter("{eregs}paragraph", "{eregs}interpParagraph"):
        label = el.get("label")
        if not label:
            continue
        content = el.find("{eregs}content")
        title = el.find("{eregs}title")
        text = "".join(content.itertext()) if content is not None else ""
        if not text.strip() and title is not None:
            text = "".join(title.itertext())
        snippet = _SPACE.sub("", normalize_text(text))[:SNIPPET]
        if not snippet:
            continue
        ref, exact = label_reference(label)
        if exact and "Interp" not in label and _unmarked_in_chain(el):
            # The source prints no marker for this paragraph or an ancestor (definitions lists): the text
            # cannot carry the label's letter, so the paragraph counts under its section.
            ref, exact = label_reference("-".join(label.split("-")[:2]))[0], False
        out.append(Label(label, ref, exact, snippet, _nested_reference(el)))
    return out


def _nested_reference(el) -> str:
    """For a numbered comment labelled against its own nesting, the reference its parent's label implies."""
    parent = el.getparent()
    marker = (el.get("marker") or "").strip()
    label, parent_label = el.get("label"), parent.get("label") if parent is not None else None
    if (el.tag != "{eregs}interpParagraph" or parent.tag != "{eregs}interpParagraph" or not parent_label
            or "-Interp-" not in label or "Interp" not in parent_label or label.startswith(parent_label + "-")
            or not marker.endswith(".") or not _MARKER.match(marker[:-1])):
        return ""
    ref, exact = label_reference(f"{parent_label}-{marker[:-1]}")
    return ref if exact and ref != label_reference(label)[0] else ""


def _unmarked_in_chain(el) -> bool:
    node = el
    while node is not None and node.tag == "{eregs}paragraph":
        if not (node.get("marker") or "").strip():
            return True
        node = node.getparent()
    return False


def documents() -> list[tuple[Path, Path]]:
    xml_dir = SHARED / "formats" / "us-cfr-xml"
    files = sorted((SHARED / "regulations" / "us-cfr").glob("*.*")) + sorted((SHARED / "formats" / "us-cfr-html").glob("*.html"))
    return [(f, xml_dir / f"{f.stem}.xml") for f in files if (xml_dir / f"{f.stem}.xml").exists()]


def coverage(path: Path, xml_path: Path, max_chars: int = 2400) -> dict:
    from ingest.clauses import split_clauses
    from ingest.identify import identify
    from ingest.load import load_file

    t0 = time.perf_counter()
    loaded = load_file(path)
    t1 = time.perf_counter()
    info = identify(path, loaded)
    clauses = split_clauses(loaded, info, "bench", max_chars)
    t2 = time.perf_counter()
    by_ref: dict[str, list[str]] = {}
    for c in clauses:
        # Parts of a split clause are joined back: a paragraph's opening may straddle the cut.
        by_ref.setdefault(c.reference, []).append(_SPACE.sub("", c.text) + "|" + _SPACE.sub("", " ".join(c.headings)))
    joined = {ref: "".join(texts) for ref, texts in by_ref.items()}
    labels = labels_of(xml_path)
    misses = []
    for lab in labels:
        if not _matched(lab, joined):
            misses.append(lab)
    matched = len(labels) - len(misses)
    shapes = Counter(re.sub(r"\d+", "N", m.label.split("-", 1)[1]) for m in misses)
    return {
        "file": str(path.relative_to(SHARED)), "format": loaded.format, "doc_id": info.doc_id, "clauses": len(clauses),
        "labelled": len(labels), "matched": matched, "share": round(matched / max(len(labels), 1), 4),
        "load_s": round(t1 - t0, 2), "parse_s": round(t2 - t1, 3),
        "top_missed_shapes": shapes.most_common(8),
        "missed_examples": [{"label": m.label, "reference": m.reference, "snippet": m.snippet} for m in misses[:15]],
    }


def _matched(lab: Label, joined: dict[str, str]) -> bool:
    nested = joined.get(lab.nested_reference) if lab.nested_reference else None
    if nested is not None and lab.snippet in nested:
        return True
    text = joined.get(lab.reference)
    if text is not None and lab.snippet in text:
        return True
    if lab.exact:
        return False
    prefixes = [lab.reference]
    if re.search(r" Appendix [A-Z]+$", lab.reference):
        # A part with a single appendix prints "Appendix to Part 1016" with no letter; the XML still says A.
        prefixes.append(lab.reference.rsplit(" ", 1)[0])
    return any(ref.startswith(prefix) and ref[len(prefix):len(prefix) + 1] in ("(-. " if k == 0 else "(")
               and lab.snippet in text for ref, text in joined.items() for k, prefix in enumerate(prefixes))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N documents (quick look)")
    ap.add_argument("--only", default="", help="only files whose name contains this")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if not SHARED.exists():
        print(f"needs {SHARED}; absent here", file=sys.stderr)
        return 2
    docs = [d for d in documents() if args.only in d[0].name]
    if args.limit:
        docs = docs[: args.limit]
    rows = [coverage(path, xml) for path, xml in docs]
    print(f"{'document':58} {'fmt':5} {'labelled':>8} {'matched':>8} {'share':>7} {'parse s':>7}")
    for r in rows:
        print(f"{r['file']:58} {r['format']:5} {r['labelled']:8d} {r['matched']:8d} {r['share']:7.1%} {r['parse_s']:7.3f}")
    total = sum(r["labelled"] for r in rows)
    hit = sum(r["matched"] for r in rows)
    overall = hit / max(total, 1)
    print(f"{'overall':58} {'':5} {total:8d} {hit:8d} {overall:7.1%}")
    if not args.limit and not args.only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"overall": round(overall, 4), "labelled": total, "matched": hit,
                                         "documents": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
