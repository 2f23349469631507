"""What the parse sandbox costs: parsing the sample corpus and the shared CFR parts in-process (as before issue 14)
against the sandbox's reused worker, and against a fresh worker per file (why the worker is reused).

Runs the three ways in turn, `--rounds` times, and keeps each way's median; also records how far the worker grew
(peak virtual memory over its start) on each file, the figure parse_memory_mb must stay above.
Run: python benchmarks/parse_sandbox.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ingest.py would shadow the ingest package
SHARED = ROOT.parent / "shared" / "corpus"
RESULTS = ROOT / "benchmarks" / "results" / "parse_sandbox.json"


def corpora() -> dict[str, list[Path]]:
    from rag.formats import format_of

    def files(folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file() and not any(s.startswith(".") for s in
                                                                             p.relative_to(folder).parts)
                      and format_of(p) is not None)

    out = {"sample corpus (corpus/)": files(ROOT / "corpus")}
    if (SHARED / "regulations" / "us-cfr").is_dir():
        out["shared CFR parts (regulations/us-cfr)"] = files(SHARED / "regulations" / "us-cfr")
    return out


def in_process(paths: list[Path]) -> float:
    from ingest.sandbox import parse_file

    t0 = time.perf_counter()
    for p in paths:
        parse_file(p, "0" * 64, 2400)
    return time.perf_counter() - t0


def sandboxed(paths: list[Path], fresh: bool = False) -> float:
    from ingest.sandbox import ParseSandbox

    t0 = time.perf_counter()
    if fresh:
        for p in paths:
            with ParseSandbox() as sandbox:
                sandbox.parse(p, "0" * 64, 2400)
    else:
        with ParseSandbox() as sandbox:
            for p in paths:
                sandbox.parse(p, "0" * 64, 2400)
    return time.perf_counter() - t0


def growth(paths: list[Path]) -> dict[str, float]:
    """MB of virtual memory each file made a fresh worker grow by (VmPeak after its parse minus before)."""
    import subprocess

    code = ("import sys, pathlib; from ingest import sandbox; import ingest.load, ingest.clauses, lxml.html, pypdf; "
            "b = sandbox._peak_address_space(); sandbox.parse_file(pathlib.Path(sys.argv[1]), '0' * 64, 2400); "
            "print((sandbox._peak_address_space() - b) / 2**20)")
    out = {}
    for p in paths:
        done = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, cwd=ROOT,
                              check=True)
        out[p.name] = round(float(done.stdout.strip().splitlines()[-1]), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from dataclasses import asdict

    from ingest.sandbox import ParseLimits

    results = {"limits": asdict(ParseLimits()), "corpora": {}}
    for name, paths in corpora().items():
        ways = {"in-process (before)": [], "sandbox, one worker reused (after)": [], "sandbox, a worker per file": []}
        for _ in range(args.rounds):  # interleaved, so a busy machine slows each way alike
            ways["in-process (before)"].append(in_process(paths))
            ways["sandbox, one worker reused (after)"].append(sandboxed(paths))
            ways["sandbox, a worker per file"].append(sandboxed(paths, fresh=True))
        medians = {way: round(statistics.median(times), 2) for way, times in ways.items()}
        grown = growth(paths)
        results["corpora"][name] = {
            "files": len(paths), "megabytes": round(sum(p.stat().st_size for p in paths) / 2**20, 1),
            "seconds_median": medians, "seconds_all": {w: [round(t, 2) for t in ts] for w, ts in ways.items()},
            "overhead_reused": round(medians["sandbox, one worker reused (after)"]
                                     / medians["in-process (before)"] - 1, 3),
            "worker_growth_mb_max": max(grown.values()), "worker_growth_mb": grown,
        }
        print(name, json.dumps(results["corpora"][name]["seconds_median"]),
              f"max growth {max(grown.values())} MB", flush=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
