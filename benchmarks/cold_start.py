"""Issue 16, acceptance 1 and 4: whole-process cold starts of `regcite ask` (three questions) and `regcite search`,
and the app's memory after ten questions, for this tree and an earlier one ("before"), in one run.

Each command runs as a new Python process (imports, index open, model load, answer, exit) with the OS file cache
warm: one discarded run per command first, then the timed runs interleaved before/after so drifting load hits both.
Wall time and the child's peak RSS (wait4's ru_maxrss) are recorded per run. The app: `ui/app.py` in Streamlit's
AppTest (the page script in this process, as `streamlit run` runs it per session) asked ten questions; peak and
current RSS after the tenth.

    python benchmarks/cold_start.py --before-tree /tmp/before --before-data /tmp/rc-before --after-data /tmp/rc-after
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "cold_start.json"
ASK = (
    "How long must a creditor retain a consumer credit application?",
    "How long does a creditor have to notify an applicant after taking adverse action on an existing account?",
    "第二十九条 规定了哪些情形？",
)
SEARCH = "adverse action notice existing account"
APP_QUESTIONS = ASK + (
    "When may a data subject obtain erasure of personal data?",
    "What must a periodic statement for an electronic fund transfer account show?",
    "Within how many days must a servicer acknowledge a notice of error?",
    "What is a qualified written request?",
    "商业银行的资本充足率不得低于多少？",
    "What records must a debt collector keep?",
    "When must a privacy notice be given to a customer?",
)
TARGET_ASK_MEDIAN_S = 3.0
QUIET_LOAD = 1.5  # 1-minute load average under which timed runs start (2 cores shared with other work)

LAUNCH = "import sys; from regcite.cli import main; sys.exit(main(sys.argv[1:]))"
APP_SCRIPT = """
import json, resource, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300).run()
for q in json.loads(sys.argv[2]):
    at.chat_input[0].set_value(q).run()
    assert not at.exception, at.exception
rss = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_mb": rss / 2**20, "turns": len(at.session_state["ask_turns"])}))
"""


def wait_for_quiet(max_wait_s: float) -> float:
    """Sleep until the 1-minute load average is under QUIET_LOAD (or max_wait_s passed); returns the load."""
    waited = 0.0
    while os.getloadavg()[0] > QUIET_LOAD and waited < max_wait_s:
        print(f"# load average {os.getloadavg()[0]:.2f} > {QUIET_LOAD}: waiting 60 s", file=sys.stderr)
        time.sleep(60)
        waited += 60
    return os.getloadavg()[0]


def environment(tree: Path, data_dir: Path, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGCITE_")}
    env.update(PYTHONPATH=str(tree), REGCITE_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1",
               XDG_CONFIG_HOME=str(home / "config"), REGCITE_AUDIT_KEY_FILE=str(home / "config" / "audit.key"))
    return env


def run_once(argv: list[str], env: dict, cwd: Path) -> dict:
    """One whole process: wall seconds, its peak RSS (MB, from wait4), exit code."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *argv], env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # not proc.wait(): wait4 gives this child's own rusage
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace")[-2000:])
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "rc": proc.returncode}


def summarise(values: list[float]) -> dict:
    return {"n": len(values), "min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-tree", type=Path, help="a checkout of the commit before (git worktree add ...)")
    parser.add_argument("--before-data", type=Path, help="an index of the shared corpus built by that checkout")
    parser.add_argument("--after-data", type=Path, required=True, help="an index of the shared corpus built by this tree")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command and tree")
    parser.add_argument("--no-app", action="store_true", help="skip the app's ten questions")
    parser.add_argument("--max-wait", type=float, default=1200, help="seconds to wait for a quiet machine")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    trees = {"after": (ROOT, args.after_data)}
    if args.before_tree:
        if not args.before_data:
            parser.error("--before-tree needs --before-data")
        trees = {"before": (args.before_tree.resolve(), args.before_data), **trees}
    for name, (tree, data) in trees.items():
        if not (data / "index" / "catalog.sqlite").exists():
            print(f"{name}: no index at {data}; ingest ../shared/corpus/regulations and filings into it first",
                  file=sys.stderr)
            return 2
    commands = {f"ask {i + 1}": ["ask", q] for i, q in enumerate(ASK)} | {"search": ["search", SEARCH, "-k", "8"]}

    home = Path(tempfile.mkdtemp(prefix="regcite-cold-"))
    envs = {name: environment(tree, data, home / name) for name, (tree, data) in trees.items()}
    for name, (tree, _) in trees.items():  # the discarded runs: page cache, records database, exported model
        for label, cmd in commands.items():
            result = run_once(cmd, envs[name], tree)
            if result["rc"] != 0:
                print(f"{name} {label} failed (exit {result['rc']})", file=sys.stderr)
                return 1
    load_start = wait_for_quiet(args.max_wait)
    print(f"# load average at start {load_start:.2f}", file=sys.stderr)
    runs: dict[str, dict[str, list[dict]]] = {name: {label: [] for label in commands} for name in trees}
    for i in range(args.runs):
        for label, cmd in commands.items():
            for name, (tree, _) in trees.items():
                runs[name][label].append(run_once(cmd, envs[name], tree))
        print(f"# round {i + 1}/{args.runs} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    load_end = os.getloadavg()[0]

    table = {}
    for name in trees:
        for label in commands:
            rows = runs[name][label]
            table[f"{name} {label}"] = {"seconds": summarise([r["seconds"] for r in rows]),
                                        "peak_rss_mb": summarise([r["peak_rss_mb"] for r in rows]),
                                        "exit_codes": sorted({r["rc"] for r in rows})}
        asks = [r["seconds"] for label in commands if label.startswith("ask") for r in runs[name][label]]
        table[f"{name} ask (all three)"] = {"seconds": summarise(asks)}

    app = {}
    if not args.no_app:
        wait_for_quiet(args.max_wait)
        for name, (tree, _) in trees.items():
            proc = subprocess.run([sys.executable, "-c", APP_SCRIPT, str(tree / "ui" / "app.py"),
                                   json.dumps(APP_QUESTIONS)], env=envs[name], cwd=tree, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                app[name] = {"error": proc.stderr[-500:]}
            else:
                app[name] = json.loads(proc.stdout.strip().splitlines()[-1])

    print(f"\n{'tree / command':28} {'min s':>7} {'median s':>9} {'max s':>7} {'peak RSS MB (median)':>21}")
    for key, row in table.items():
        rss = row.get("peak_rss_mb", {}).get("median")
        s = row["seconds"]
        print(f"{key:28} {s['min']:>7.2f} {s['median']:>9.2f} {s['max']:>7.2f} {rss if rss is not None else '':>21}")
    for name, row in app.items():
        print(f"app after {len(APP_QUESTIONS)} questions ({name}): {row}")
    after = table["after ask (all three)"]["seconds"]["median"]
    print(f"after: median ask {after:.2f} s (target under {TARGET_ASK_MEDIAN_S} s): "
          f"{'met' if after < TARGET_ASK_MEDIAN_S else 'NOT met'}; load average {load_start:.2f} -> {load_end:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": platform.platform(), "cpus": os.cpu_count(), "runs": args.runs,
        "load_average": {"start": round(load_start, 2), "end": round(load_end, 2)},
        "trees": {name: str(tree) for name, (tree, _) in trees.items()},
        "questions": {"ask": list(ASK), "search": SEARCH, "app": list(APP_QUESTIONS)},
        "summary": table, "app": app,
        "raw": runs,
    }, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
