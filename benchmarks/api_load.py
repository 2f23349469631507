"""Issue 15, acceptance 4: `regcite serve` under 16 concurrent clients for 60 s, extractive backend, on loopback.

The server is a real subprocess over the sample corpus (ingested into a scratch data dir unless --data-dir names an
index). Each client posts /v1/ask in a loop, cycling through questions (Reg B, GDPR, the Chinese AML law, one no
document answers); a 17th probe reads /v1/health and /v1/search twice a second, to show the server stays responsive
while answers queue behind the one answering worker. Prints a table and writes benchmarks/results/api_load.json.

    python benchmarks/api_load.py [--clients 16] [--seconds 60] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api_load.json"
QUESTIONS = (
    "How long does a creditor have to notify an applicant after taking adverse action on an existing account?",
    "When may a data subject obtain erasure of personal data?",
    "客户身份资料应当保存多少年？",
    "What capital ratio must a securities firm hold?",  # nothing indexed answers it: an abstention
)
PROBE_EVERY_S = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ingest(data_dir: Path, env: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "regcite.cli", "--data-dir", str(data_dir), "ingest",
                           str(ROOT / "corpus")], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stderr[-2000:]}")


def _start(data_dir: Path, records: Path, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    env = {**env, "REGCITE_DATABASE_URL": f"sqlite:///{records}", "REGCITE_LLM_BACKEND": "extractive"}
    proc = subprocess.Popen([sys.executable, "-m", "regcite.cli", "--data-dir", str(data_dir), "serve", "--port",
                             str(port)], env=env, cwd=ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"regcite serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("regcite serve did not become healthy in 120 s")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _load(url: str, clients: int, seconds: float) -> dict:
    import httpx

    stats = {"ask": [], "health": [], "search": []}
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        async def client(n: int) -> None:
            i = n
            while time.monotonic() < stop_at:
                question = QUESTIONS[i % len(QUESTIONS)]
                i += 1
                t = time.perf_counter()
                try:
                    r = await http.post(f"{url}/ask", json={"question": question})
                    ok = r.status_code == 200 and r.json().get("answer_id")
                except httpx.HTTPError as e:
                    ok, r = False, e
                if ok:
                    stats["ask"].append(time.perf_counter() - t)
                else:
                    errors.append(f"ask: {getattr(r, 'status_code', r)}")

        async def probe() -> None:
            while time.monotonic() < stop_at:
                for name, path, params in (("health", "/health", None),
                                           ("search", "/search", {"q": "adverse action notice", "k": 5})):
                    t = time.perf_counter()
                    try:
                        r = await http.get(f"{url}{path}", params=params)
                        (stats[name] if r.status_code == 200 else errors).append(
                            time.perf_counter() - t if r.status_code == 200 else f"{name}: {r.status_code}")
                    except httpx.HTTPError as e:
                        errors.append(f"{name}: {e!r}")
                await asyncio.sleep(PROBE_EVERY_S)

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)), probe())
        elapsed = time.perf_counter() - started
    row = {}
    for name, values in stats.items():
        row[name] = {"requests": len(values), "per_s": round(len(values) / elapsed, 2),
                     "p50_ms": round(_pct(values, 0.5) * 1000, 1), "p95_ms": round(_pct(values, 0.95) * 1000, 1),
                     "max_ms": round(max(values) * 1000, 1) if values else None}
    return {"elapsed_s": round(elapsed, 1), "endpoints": row, "errors": len(errors), "error_samples": errors[:10]}


def _recorded(records: Path) -> int:
    """How many answers the server's record book holds (each answered request must be one)."""
    import sqlite3

    with sqlite3.connect(f"file:{records}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM answers").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--data-dir", type=Path, help="an index of the sample corpus (default: ingest one now)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="regcite-api-load-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "XDG_CONFIG_HOME": str(scratch / "config"), "REGCITE_AUDIT_CHECKPOINTS": str(scratch / "checkpoints.jsonl")}
    env.pop("REGCITE_CONFIG", None)
    data_dir = args.data_dir or scratch / "data"
    if args.data_dir is None:
        _ingest(data_dir, env)
    proc, url = _start(data_dir, scratch / "records.db", env, scratch / "serve.log")
    try:
        import httpx

        for question in QUESTIONS:  # warm: the embedder and the retrieval structures load before timing
            httpx.post(f"{url}/ask", json={"question": question}, timeout=120).raise_for_status()
        result = asyncio.run(_load(url, args.clients, args.seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result["recorded_answers"] = _recorded(scratch / "records.db")
    result["every_answer_recorded"] = result["recorded_answers"] == result["endpoints"]["ask"]["requests"] + len(
        QUESTIONS)  # the warm-up questions are recorded too
    result = {"clients": args.clients, "seconds": args.seconds, "backend": "extractive", "corpus": "corpus/ (sample)",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m_after": round(os.getloadavg()[0], 2)}, **result}
    print(f"{args.clients} clients, {result['elapsed_s']} s, extractive backend, loopback; "
          f"errors: {result['errors']}; answers recorded: {result['recorded_answers']}")
    print(f"{'endpoint':10} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, row in result["endpoints"].items():
        print(f"{name:10} {row['requests']:>8} {row['per_s']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
              f"{row['max_ms'] if row['max_ms'] is not None else '-':>8}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if result["errors"] or not result["every_answer_recorded"] else 0


if __name__ == "__main__":
    sys.exit(main())
