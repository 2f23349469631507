"""Clause-diff accuracy: align_versions on consecutive Reg B and HMDA versions, scored against the RegML labels.

Truth: for two consecutive versions, the XML's labelled paragraphs mapped to canonical references with
clause_coverage's label_reference (unnumbered and appendix paragraphs name their numbered ancestor or appendix:
one scoring unit holds all the paragraphs mapped to it, in order); a unit only in the newer version is added,
only in the older removed, in both with text differing beyond whitespace modified (editorial when is_editorial
says so). Unnumbered heading-only labels (a title, no content, no marker: "Paragraph 5(a)(2).") are not scored:
the parser keeps headings out of clause text, so the diff cannot see them. Where the XML contradicts the printed
text, the printed text names the unit: clause_coverage's nested reference for a comment labelled against its
nesting; a comment whose label ends in a letter where its marker says "1." (1002-13-c-Interp-c); comments on an
unmarked rule paragraph (1003.2's definitions before 2018), which count under the section's commentary; the
introduction's comments (1003-h1-Interp-1 is Comment I-1); and a paragraph printed with a marker its level does
not use (rule text "4." or "i." where the level prints "(4)"; a second comment "1." after "2."), which reads as
part of the paragraph printed before it, where the parser also puts it. --strict scores the labels as they stand.
Prediction: the diff as `regcite diff` shows it (rag.lineage.by_reference), each reference projected onto the
unit that names it or its nearest ancestor unit; a moved clause counts as removed from a reference the newer
version lacks and added to one the older lacked, the only way the labels can tell a move. Changes on references
no label names (the corpus files' banner "12 CFR 1002") are listed as unscored.
Rule text and official interpretations (units "… Comment …") are scored apart.
Run: python benchmarks/diff_accuracy.py [--only 1003] [--show N]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, benchmarks/ comes first on sys.path and its ingest.py would shadow the ingest package.
sys.path.insert(0, str(ROOT))
from benchmarks.clause_coverage import SHARED, _unmarked_in_chain, coverage, label_reference, labels_of  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "diff_accuracy.json"
XML = SHARED / "formats" / "us-cfr-xml"
# Each instrument's versions by effective date (the dates are in ../shared/corpus/MANIFEST.json).
CHAINS = {
    "12 CFR 1002": ["versions/12cfr1002_2011-31714.html", "versions/12cfr1002_2013-22752.html",
                    "versions/12cfr1002_2013-01384.html", "amendments/12cfr1002_2016-16301.pdf",
                    "versions/12cfr1002_2017-20417_20180101.html", "regulations/us-cfr/12cfr1002_2017-20417_20220101.pdf"],
    "12 CFR 1003": ["versions/12cfr1003_2015-26607_20170101.html", "regulations/us-cfr/12cfr1003_2017-18284_20180101.html"],
}
KINDS = ("added", "removed", "modified")
GROUPS = ("rule", "interp")


def parse(rel: str):
    from ingest.clauses import split_clauses
    from ingest.identify import identify
    from ingest.load import load_file
    from rag.config import Settings
    from rag.store import file_sha256

    path = SHARED / rel
    loaded = load_file(path)
    info = identify(path, loaded)
    return info, split_clauses(loaded, info, file_sha256(path)[:16], Settings().max_clause_chars)


def truth_units(xml_path: Path, strict: bool = False, parsed: frozenset[str] = frozenset()) -> tuple[dict[str, str], Counter]:
    """Unit reference -> the text of its labelled paragraphs in document order; and how often each reading of the
    printed text over the label was taken (all of them off when strict: the label's reference as it stands).

    `parsed` is the references the parser gave the document: a paragraph printed with an odd marker ("4.") that
    the parser read under its label (it does when the sequence implies it) is scored under its label."""
    from lxml import etree

    from rag.normalize import normalize_text

    tree = etree.parse(str(xml_path))
    by_label = {el.get("label"): el for el in tree.iter("{eregs}paragraph", "{eregs}interpParagraph")}
    texts: dict[str, list[str]] = defaultdict(list)
    notes: Counter = Counter()
    previous = ""
    for lab in labels_of(xml_path):
        el = by_label[lab.label]
        content, title = el.find("{eregs}content"), el.find("{eregs}title")
        body = "".join(content.itertext()) if content is not None else ""
        marker = (el.get("marker") or "").strip()
        if not body.strip() and marker in ("", "none"):
            notes["heading, not scored"] += 1  # "Paragraph 5(a)(2).": the parser's heading trail, no clause's text
            continue
        head = "".join(title.itertext()) if title is not None else ""
        unit, why = (lab.reference, "") if strict else _unit(lab, el, by_label, marker)
        if why == "printed as part of the paragraph before" and lab.reference in parsed:
            why = ""
        if why == "printed as part of the paragraph before":
            unit = previous or unit
        notes[why] += bool(why)
        texts[unit].append(normalize_text(f"{head} {body}"))
        previous = unit
    return {ref: " ".join(parts) for ref, parts in texts.items()}, notes


def _unit(lab, el, by_label, marker: str) -> tuple[str, str]:
    """The reference the printed text gives a label where the XML's label says otherwise, and why (docstring)."""
    if lab.nested_reference:
        return lab.nested_reference, "nested comment"
    parts = lab.label.split("-")
    if "Interp" not in parts:
        if " Appendix " not in lab.reference and marker not in ("", "none") and not re.fullmatch(r"\(\w+\)", marker):
            return lab.reference, "printed as part of the paragraph before"  # "4.", "i." where the level prints "(4)"
        return lab.reference, ""
    k = parts.index("Interp")
    number = re.fullmatch(r"(\d+)\.", marker)
    if number and parts[-2] == "Interp" and not parts[-1].isdigit():
        return label_reference("-".join(parts[:-1] + [number[1]]))[0], "marker over label"  # 1002-13-c-Interp-c, "1."
    if number and parts[-2] == "Interp" and parts[-1] != number[1]:
        return lab.reference, "printed as part of the paragraph before"  # a second "1." after "2."
    if k > 1 and all(re.fullmatch(r"h\d+", p) for p in parts[1:k]):
        return label_reference("-".join([parts[0], *parts[k:]]))[0], "introduction"  # 1003-h1-Interp-1: Comment I-1
    target = by_label.get("-".join(parts[:k]))
    if target is not None and target.tag == "{eregs}paragraph" and _unmarked_in_chain(target):
        # The rule paragraph prints no marker (1003.2's definitions before 2018): its comments cannot carry the
        # label's letter and count under the section's commentary, as rule text counts under its section.
        return label_reference(f"{parts[0]}-{parts[1]}-Interp")[0], "comment on an unmarked paragraph"
    return lab.reference, ""


def project(ref: str, units: set[str]) -> str:
    """The unit naming ref, else its nearest ancestor unit ("… Appendix C" for an appendix's own numbering)."""
    if ref in units:
        return ref
    best = ""
    for u in units:
        if len(u) > len(best) and ref.startswith(u) and ref[len(u):len(u) + 1] in ("(", "-", ".", " "):
            best = u
    return best or ref


def group_of(unit: str) -> str:
    return "interp" if " Comment " in unit else "rule"


def score_pair(old_rel: str, new_rel: str, strict: bool = False) -> dict:
    from rag.lineage import align_versions, by_reference
    from rag.redline import is_editorial, same_text
    from rag.types import ChangeKind

    (_, old), (_, new) = parse(old_rel), parse(new_rel)
    t0 = time.perf_counter()
    changes = align_versions(old, new)
    align_s = time.perf_counter() - t0
    shown = by_reference(old, new, changes)
    truth_old, notes_old = truth_units(XML / f"{Path(old_rel).stem}.xml", strict, frozenset(c.reference for c in old))
    truth_new, notes_new = truth_units(XML / f"{Path(new_rel).stem}.xml", strict, frozenset(c.reference for c in new))
    units = set(truth_old) | set(truth_new)
    truth: dict[str, set[str]] = {k: set() for k in KINDS}
    truth["added"] = set(truth_new) - set(truth_old)
    truth["removed"] = set(truth_old) - set(truth_new)
    truth["modified"] = {u for u in set(truth_old) & set(truth_new) if not same_text(truth_old[u], truth_new[u])}
    truth_editorial = sorted(u for u in truth["modified"] if is_editorial(truth_old[u], truth_new[u]))

    old_units = {project(c.reference, units) for c in old}
    new_units = {project(c.reference, units) for c in new}
    pred: dict[str, set[str]] = {k: set() for k in KINDS}
    pred_editorial: set[str] = set()
    substantive: set[str] = set()
    for rc in shown:
        a = project(rc.from_ref, units) if rc.from_ref else None
        b = project(rc.to_ref, units) if rc.to_ref else None
        if rc.kind is ChangeKind.MODIFIED:
            pred["modified"].add(a)
            (pred_editorial if rc.editorial else substantive).add(a)
        elif rc.kind is ChangeKind.ADDED:
            pred["modified" if b in old_units else "added"].add(b)
            substantive.add(b)
        elif rc.kind is ChangeKind.REMOVED:
            pred["modified" if a in new_units else "removed"].add(a)
            substantive.add(a)
        else:  # moved: what the labels can see of it
            if a not in new_units:
                pred["removed"].add(a)
            if b not in old_units:
                pred["added"].add(b)
    unscored = sorted({u for k in KINDS for u in pred[k] if u not in units})
    for k in KINDS:
        pred[k] &= units
    row = {"from": old_rel, "to": new_rel, "old_clauses": len(old), "new_clauses": len(new),
           "align_s": round(align_s, 3), "readings": dict(notes_old + notes_new),
           "moved": sum(rc.kind is ChangeKind.MOVED for rc in shown), "unscored": unscored}
    for g in GROUPS:
        for k in KINDS:
            t = {u for u in truth[k] if group_of(u) == g}
            p = {u for u in pred[k] if group_of(u) == g}
            row[f"{g}_{k}"] = {"truth": len(t), "predicted": len(p), "hit": len(t & p),
                               "false": sorted(p - t), "missed": sorted(t - p)}
    row["editorial_truth"] = truth_editorial
    row["editorial_predicted"] = sorted(pred_editorial - substantive)
    return row


def _pr(hit: int, predicted: int, truth: int) -> tuple[float, float]:
    # Nothing to find and nothing claimed is a perfect score, not a division by zero.
    return (hit / predicted if predicted else 1.0), (hit / truth if truth else 1.0)


def totals(rows: list[dict], group: str) -> dict:
    hit = sum(r[f"{group}_{k}"]["hit"] for r in rows for k in KINDS)
    predicted = sum(r[f"{group}_{k}"]["predicted"] for r in rows for k in KINDS)
    truth = sum(r[f"{group}_{k}"]["truth"] for r in rows for k in KINDS)
    p, rec = _pr(hit, predicted, truth)
    out = {"truth": truth, "predicted": predicted, "hit": hit, "precision": round(p, 4), "recall": round(rec, 4)}
    for k in KINDS:
        h, pr_, t = (sum(r[f"{group}_{k}"][x] for r in rows) for x in ("hit", "predicted", "truth"))
        kp, kr = _pr(h, pr_, t)
        out[k] = {"truth": t, "predicted": pr_, "hit": h, "precision": round(kp, 4), "recall": round(kr, 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    if not XML.exists():  # the RegML labels are the truth: nothing to score without them
        print(f"needs {XML}; absent here", file=sys.stderr)
        return 2
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="only chains whose doc_id contains this")
    ap.add_argument("--show", type=int, default=0, help="print up to N false and missed units per pair")
    ap.add_argument("--coverage", action="store_true", help="also print clause_coverage of every file")
    ap.add_argument("--strict", action="store_true", help="units as the XML labels name them, no reading of the print")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    rows = []
    for doc_id, files in CHAINS.items():
        if args.only not in doc_id:
            continue
        if args.coverage:
            for f in files:
                c = coverage(SHARED / f, XML / f"{Path(f).stem}.xml")
                print(f"coverage {f}: {c['matched']}/{c['labelled']} ({c['share']:.1%})")
        rows += [dict(doc_id=doc_id, **score_pair(a, b, args.strict)) for a, b in zip(files, files[1:])]
    head = f"{'pair':64} {'grp':6}" + "".join(f" {k[:3]:>3} t/p/hit" for k in KINDS) + f" {'P':>6} {'R':>6}"
    print(head)
    for r in rows:
        name = f"{Path(r['from']).stem} -> {Path(r['to']).stem}"
        for g in GROUPS:
            t = totals([r], g)
            cells = "".join(f" {t[k]['truth']:>4}/{t[k]['predicted']:>3}/{t[k]['hit']:>3}" for k in KINDS)
            print(f"{name:64} {g:6}{cells} {t['precision']:6.3f} {t['recall']:6.3f}")
            name = ""
        print(f"{'':64} editorial: truth {len(r['editorial_truth'])} predicted {len(r['editorial_predicted'])}; "
              f"moved {r['moved']}; unscored {len(r['unscored'])}; align {r['align_s']}s")
        for g in GROUPS:
            for k in KINDS:
                cell = r[f"{g}_{k}"]
                for what in ("false", "missed"):
                    if args.show and cell[what]:
                        print(f"    {g} {k} {what}: {cell[what][:args.show]}")
    overall = {g: totals(rows, g) for g in GROUPS}
    for g in GROUPS:
        o = overall[g]
        print(f"{'overall':64} {g:6} truth {o['truth']} predicted {o['predicted']} hit {o['hit']}  "
              f"P {o['precision']:.3f}  R {o['recall']:.3f}")
    if not args.only and not args.strict:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"overall": overall, "pairs": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
