"""Run reports: Markdown, and a self-contained HTML page with matplotlib plots inlined as base64 PNG."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

# Headline metrics in reading order; others in the summary follow alphabetically.
HEADLINE = (
    "recall@1", "recall@3", "recall@5", "recall@10", "mrr", "map@10", "clause_hit_rate", "citation_precision",
    "citation_recall", "supported_sentence_share", "abstention_accuracy", "unanswerable_abstained",
    "answerable_abstained", "key_fact_accuracy", "key_facts_all_present", "errors",
)


def _ordered(metric_names) -> list[str]:
    names = list(metric_names)
    return [n for n in HEADLINE if n in names] + sorted(n for n in names if n not in HEADLINE)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def metric_rows(summary: dict) -> list[tuple[str, str, str, str]]:
    """(metric, mean, std, n) for each metric."""
    out = []
    for name in _ordered(summary["metrics"]):
        m = summary["metrics"][name]
        out.append((name, _fmt(m.get("mean")), _fmt(m.get("std")), str(m.get("n", ""))))
    return out


def _outcome(row: dict) -> str:
    if row["error"]:
        return "error"
    if not row["answerable"]:
        return "abstained (correct)" if row["abstained"] else "answered (should abstain)"
    if row["abstained"]:
        return "abstained (should answer)"
    from evals.metrics import covers

    hit = any(covers(g, h["reference"]) or h["clause_id"] == g for g in row["gold"] for h in row["hits"])
    return "answered, gold retrieved" if hit else "answered, gold missed"


def _cited(row: dict) -> str:
    return ", ".join(dict.fromkeys(c["reference"] for s in row["sentences"] for c in s["citations"]))


def _header(summary: dict) -> list[tuple[str, str]]:
    s = summary["settings"]
    return [
        ("question set", f"{summary['set']} ({summary['questions']} questions, {summary['answerable']} answerable)"),
        ("repeats", f"{summary['repeats']} (seeds {', '.join(map(str, summary['seeds']))})"),
        ("backend / model", f"{summary['backend']} / {summary['model'] or '–'}"),
        ("retrieval", f"embedder {s.get('embed_model')}, fusion {s.get('fusion')}, top_k {s.get('top_k')}, "
                      f"reranker {s.get('reranker') or 'none'}"),
        ("as of", _as_of(summary)),
        ("index generation", str(summary["generation"])),
        ("finished", summary["finished"] + ("" if summary["complete"] else " (incomplete run)")),
    ]


def _as_of(summary: dict) -> str:
    day, dated = summary.get("as_of"), summary.get("dated_questions", 0)
    if not day:
        return "– (a run from before runs were dated: every indexed version answered)"
    return day + (f" ({dated} question(s) with a date of their own)" if dated else "")


def write_markdown(path: Path, summary: dict, rows: list[dict]) -> None:
    lines = ["# regcite evaluation run", ""]
    lines += [f"- **{k}**: {v}" for k, v in _header(summary)]
    lines += ["", "## Metrics (mean over repeats)", "", "| metric | mean | std | n |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in metric_rows(summary)]
    lat = summary["latency_ms"]
    if lat:
        lines += ["", "## Latency (ms per question)", "", "| " + " | ".join(lat) + " |",
                  "|" + " ---: |" * len(lat), "| " + " | ".join(f"{v:.0f}" for v in lat.values()) + " |"]
    lines += ["", "## Questions (repeat 0)", "", "| id | outcome | cited | latency ms |", "| --- | --- | --- | ---: |"]
    for r in rows:
        if r["repeat"] == 0:
            cited = _cited(r).replace("|", "\\|")
            lines.append(f"| {r['qid']} | {_outcome(r)} | {cited} | {r['latency_ms']:.0f} |")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(summary: dict, rows: list[dict]) -> list[tuple[str, str]]:
    """(title, base64 PNG) for the metric bar chart and the latency histogram."""
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    out = []
    names = [n for n in _ordered(summary["metrics"]) if n != "errors"]
    if names:
        means = [summary["metrics"][n]["mean"] for n in names]
        stds = [summary["metrics"][n]["std"] for n in names]
        fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1))
        ax.barh(names[::-1], means[::-1], xerr=stds[::-1], color="#3b6ea8")
        ax.set_xlim(0, 1)
        ax.set_xlabel("score (mean over repeats; bars show the spread)")
        for y, v in enumerate(means[::-1]):
            ax.text(min(v + 0.01, 0.92), y, f"{v:.2f}", va="center", fontsize=8)
        out.append(("Metrics chart", _png(fig)))
        plt.close(fig)
    latencies = [r["latency_ms"] for r in rows if not r["error"]]
    if latencies:
        fig, ax = plt.subplots(figsize=(8, 2.6))
        ax.hist(latencies, bins=min(30, max(5, len(latencies) // 2)), color="#6a9f58")
        for name, style in (("p50", "--"), ("p95", ":")):
            if name in summary["latency_ms"]:
                ax.axvline(summary["latency_ms"][name], color="black", linestyle=style, label=name)
        ax.set_xlabel("latency per question (ms)")
        ax.set_ylabel("questions")
        ax.legend()
        out.append(("Latency distribution", _png(fig)))
        plt.close(fig)
    return out


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}
th{background:#eef2f7}td.n{text-align:right}.bad{color:#a33}.good{color:#275e27}img{max-width:100%}"""


def write_html(path: Path, summary: dict, rows: list[dict]) -> None:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>regcite eval: {e(summary['set'])}</title>",
             f"<style>{_CSS}</style></head><body><h1>regcite evaluation run</h1><table>"]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _header(summary)]
    parts.append("</table><h2>Metrics</h2><table><tr><th>metric</th><th>mean</th><th>std</th><th>n</th></tr>")
    parts += [f"<tr><td>{e(a)}</td><td class=n>{b}</td><td class=n>{c}</td><td class=n>{d}</td></tr>"
              for a, b, c, d in metric_rows(summary)]
    parts.append("</table>")
    if summary["latency_ms"]:
        lat = summary["latency_ms"]
        parts.append("<h2>Latency (ms per question)</h2><table><tr>" + "".join(f"<th>{e(k)}</th>" for k in lat)
                     + "</tr><tr>" + "".join(f"<td class=n>{v:.0f}</td>" for v in lat.values()) + "</tr></table>")
    for title, data in plots(summary, rows):
        parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>Questions (repeat 0)</h2><table><tr><th>id</th><th>question</th><th>outcome</th>"
                 "<th>gold</th><th>cited</th><th>ms</th></tr>")
    for r in rows:
        if r["repeat"] != 0:
            continue
        outcome = _outcome(r)
        cls = "good" if outcome.startswith(("answered, gold retrieved", "abstained (correct)")) else "bad"
        parts.append(f"<tr><td>{e(r['qid'])}</td><td>{e(r['question'])}</td><td class={cls}>{e(outcome)}</td>"
                     f"<td>{e(', '.join(r['gold']))}</td><td>{e(_cited(r))}</td>"
                     f"<td class=n>{r['latency_ms']:.0f}</td></tr>")
    parts.append("</table></body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
