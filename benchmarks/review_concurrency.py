"""Review concurrency (issue 13, acceptance 3): askers, reviewers and an ingest at once on one records database.

For each backend (SQLite in the data directory, a fresh PostgreSQL database) the sample corpus is ingested with
the packaged embedder and users are added (an admin, the askers, the reviewers); then separate OS processes
(multiprocessing, spawn) run for `--seconds`:
- each asker opens a pipeline once and records answers (`ask_and_record`, extractive backend) to questions about
  the sample corpus, as its own user;
- each reviewer lists the queue, claims one of its oldest unclaimed answers (a refusal because another reviewer
  holds it is a collision, which is fine), checks the claim is its own and the answer still undecided, and decides
  it (accept every citation and approve, or reject one with a reason); one claim in eight is released undecided;
- one ingest process re-ingests a copy of a sample report with one changed line, so every pass commits the index;
- one auditor runs verify_chain every few seconds on the live chain (reported, not an invariant: see `live_verify`).
Afterwards every record a process reported is looked up: none may be missing or reported twice, no record may
exist that no process reported, seq runs 1..N, the derived answers and decisions tables match the chain, no two
claims on one answer overlap in time, no answer is decided twice, decide() never failed on a held claim, and
verify_chain holds with every record signed. The exit code is 1 when any of that fails.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import queue
import random
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "corpus"
RESULTS = ROOT / "benchmarks" / "results" / "review_concurrency.json"
PROBE_SOURCE = CORPUS / "reports" / "sample_adverse-action-notice-review.md"
PROBE_NAME = "ingest-probe_adverse-action-notice-review.md"  # a report: its doc_id is its stem, a document of its own
BACKENDS = ("sqlite", "postgresql")
PASSWORD = "concurrency benchmark"
READY_TIMEOUT_S = 900  # up to 13 processes importing torch and loading the model on 2 shared cores
FINISH_GRACE_S = 600  # after the deadline: the last question, decision or ingest pass in flight
MAX_MESSAGES = 20  # error texts kept per worker; all are counted
RELEASE_EVERY = 8  # every 8th claim is released undecided: the answer goes back to the queue
REJECT_EVERY = 3  # every 3rd decision rejects one citation with a reason
AUDIT_EVERY_S = 5.0
QUESTIONS = (
    "How long does a creditor have to notify an applicant after taking adverse action on an existing account?",
    "When must a controller notify a personal data breach to the supervisory authority?",
    "What must the processor do after becoming aware of a personal data breach?",
    "When does the data subject have the right to erasure of personal data?",
    "What must a statement of specific reasons for adverse action contain?",
    "What must a controller do when it has made personal data public and must erase it?",
    "Within how many days must a creditor notify an applicant of action taken on a completed application?",
    "How many adverse action notices were sent late in the compliance review?",
    "金融机构应当如何进行客户尽职调查？",
    "反洗钱法第二十九条规定了哪些情形？",
)


@dataclass(frozen=True)
class WorkerPlan:
    role: str  # "asker", "reviewer", "ingest" or "auditor"
    name: str  # the user it acts as; the ingest and the auditor act as no user
    number: int  # 0-based within its role: staggers the questions, seeds the choices
    settings: object  # rag.config.Settings, shared by every process of the run
    probe_dir: Path | None = None  # ingest only: where the changing copy of the report is written
    # reviewer only: look at the answer's decisions before claiming it, as the app's review page does, instead of
    # after the claim is held (the order that leaves no window for another reviewer's decision)
    check_before_claim: bool = False


@dataclass(frozen=True)
class Held:
    """One successful claim, timed so the interval lies inside the true hold: [after claim() returned, before the
    decide() or release() that ends it was called]. Two such intervals that overlap are a real double claim."""

    answer_id: str
    reviewer: str
    claimed_at: float  # time.time(), seconds
    released_at: float
    ended_by: str  # "decided", "released", "already decided", "decide failed"


@dataclass(frozen=True)
class WorkerResult:
    role: str
    name: str
    answers: tuple[tuple[str, int], ...] = ()  # (record_id, seq) of every answer it recorded
    decisions: tuple[tuple[str, int, str], ...] = ()  # (record_id, seq, answer_id) of every decision it recorded
    held: tuple[Held, ...] = ()
    ask_ms: tuple[float, ...] = ()
    record_ms: tuple[float, ...] = ()  # the part of each ask after the pipeline answered: the record and its checkpoint
    decide_ms: tuple[float, ...] = ()
    claim_ms: tuple[float, ...] = ()
    collisions: int = 0  # claims refused because another reviewer held the answer
    ingest_passes: int = 0
    ingest_commits: int = 0  # passes that made a new index generation current
    verifications: int = 0  # auditor: verify_chain runs during the window
    verifications_broken: int = 0  # ... that reported a break
    failures: tuple[str, ...] = ()  # invariants broken under its own eyes (decide refused on a held claim, ...)
    failure_count: int = 0
    errors: tuple[str, ...] = ()  # unexpected exceptions: a busy database, a deadlock, a lost connection
    error_count: int = 0
    finished_at: float = 0.0


class _Log:
    """Counts every message and keeps the first few."""

    def __init__(self):
        self.kept: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_MESSAGES:
            self.kept.append(text)


def _exception(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def _one_thread(settings) -> None:
    """One torch thread per process: 9 model-holding processes on 2 cores would otherwise oversubscribe them.
    The ONNX backends import no torch and size onnxruntime's pool themselves; they are left as they are."""
    if settings.embed_backend == "torch":
        import torch

        torch.set_num_threads(1)


# ---- the workers (each in its own process) ----

def worker_main(plan: WorkerPlan, messages, go, deadline) -> None:
    def start() -> float:
        messages.put(("ready", plan.name or plan.role))
        go.wait()
        return deadline.value

    try:
        result = {"asker": _asker, "reviewer": _reviewer, "ingest": _ingest, "auditor": _auditor}[plan.role](
            plan, start)
    except BaseException as e:  # a worker that dies still reports, so the run fails instead of hanging
        result = WorkerResult(plan.role, plan.name, errors=(f"fatal: {_exception(e)}\n{traceback.format_exc()}",),
                              error_count=1, finished_at=time.time())
    messages.put(("result", result))


def _asker(plan: WorkerPlan, start) -> WorkerResult:
    from rag.pipeline import open_pipeline
    from rag.records.answers import ask_and_record
    from rag.records.book import open_book
    from rag.records.users import authenticate
    from rag.types import Filters

    _one_thread(plan.settings)
    pipeline = open_pipeline(plan.settings)
    pipeline.search(QUESTIONS[0])  # loads the model and builds BM25 before the clock starts
    book = open_book(plan.settings)
    user = authenticate(book, plan.name, PASSWORD)
    answers, ask_ms, record_ms, errors = [], [], [], _Log()
    deadline = start()
    turn = plan.number
    while time.time() < deadline:
        question = QUESTIONS[turn % len(QUESTIONS)]
        turn += 1
        t = time.perf_counter()
        try:
            record = ask_and_record(pipeline, book, user, question, Filters(), entry="api")
        except Exception as e:
            errors.add(f"ask_and_record: {_exception(e)}")
            continue
        ask_ms.append((time.perf_counter() - t) * 1000)
        record_ms.append(ask_ms[-1] - record.timings_ms.get("total", 0.0))
        answers.append((record.answer_id, record.seq))
    book.db.dispose()
    return WorkerResult("asker", plan.name, answers=tuple(answers), ask_ms=tuple(ask_ms), record_ms=tuple(record_ms),
                        errors=tuple(errors.kept), error_count=errors.count, finished_at=time.time())


def _rulings(answer, turn: int):
    """Accept every citation and approve; every REJECT_EVERY-th time reject the first citation with a reason."""
    from rag.records.reviews import Action, CitationDecision, Outcome, Reason, citation_slots

    slots = citation_slots(answer)
    if slots and turn % REJECT_EVERY == 0:
        first = CitationDecision(*slots[0], Action.REJECT, Reason.DOES_NOT_SUPPORT)
        rest = [CitationDecision(*slot, Action.ACCEPT) for slot in slots[1:]]
        return [first, *rest], Outcome.REJECTED, "the first citation does not say it"
    return [CitationDecision(*slot, Action.ACCEPT) for slot in slots], Outcome.APPROVED, ""


def _reviewer(plan: WorkerPlan, start) -> WorkerResult:
    from rag.errors import ReviewError
    from rag.records.answers import load_answer
    from rag.records.book import open_book
    from rag.records.queue import list_answers
    from rag.records.reviews import claim, claim_of, decide, decisions_of, release
    from rag.records.users import authenticate

    book = open_book(plan.settings)
    me = authenticate(book, plan.name, PASSWORD)
    rng = random.Random(plan.number)
    decisions, held, decide_ms, claim_ms = [], [], [], []
    failures, errors = _Log(), _Log()
    collisions = claims = 0
    deadline = start()
    while time.time() < deadline:
        try:
            waiting = [i for i in list_answers(book) if not i.claimed_by]
        except Exception as e:
            errors.add(f"list_answers: {_exception(e)}")
            time.sleep(0.02)
            continue
        if not waiting:
            time.sleep(0.02)
            continue
        answer_id = rng.choice(waiting[:3]).answer_id  # the oldest few: reviewers race for the same answers
        if plan.check_before_claim:
            try:
                if decisions_of(book, answer_id):
                    continue
            except Exception as e:
                errors.add(f"decisions_of: {_exception(e)}")
                continue
        t = time.perf_counter()
        try:
            claim(book, me, answer_id)
        except ReviewError:
            collisions += 1
            continue
        except Exception as e:
            errors.add(f"claim: {_exception(e)}")
            continue
        claimed_at = time.time()
        claim_ms.append((time.perf_counter() - t) * 1000)
        claims += 1
        try:
            holder = claim_of(book, answer_id)
            if holder is None or holder.reviewer != me.name:
                failures.add(f"{me.name} claimed {answer_id} but claim_of names {holder.reviewer if holder else None}")
            # Decided by someone else between our look at the queue and our claim: with the claim held, no other
            # decision can come in, so this look leaves no window.
            if not plan.check_before_claim and decisions_of(book, answer_id):
                held.append(Held(answer_id, me.name, claimed_at, time.time(), "already decided"))
                release(book, me, answer_id)
                continue
            if claims % RELEASE_EVERY == 0:
                held.append(Held(answer_id, me.name, claimed_at, time.time(), "released"))
                release(book, me, answer_id)
                continue
            rulings, outcome, comment = _rulings(load_answer(book, answer_id), claims)
        except Exception as e:
            errors.add(f"reading a claimed answer: {_exception(e)}")
            held.append(Held(answer_id, me.name, claimed_at, time.time(), "released"))
            _release_quietly(book, me, answer_id, errors)
            continue
        released_at = time.time()
        t = time.perf_counter()
        try:
            decision = decide(book, me, answer_id, outcome, rulings, comment)
        except Exception as e:
            failures.add(f"decide refused {answer_id} while {me.name} held its claim: {_exception(e)}")
            held.append(Held(answer_id, me.name, claimed_at, time.time(), "decide failed"))
            _release_quietly(book, me, answer_id, errors)
            continue
        decide_ms.append((time.perf_counter() - t) * 1000)
        decisions.append((decision.decision_id, decision.seq, answer_id))
        held.append(Held(answer_id, me.name, claimed_at, released_at, "decided"))
    book.db.dispose()
    return WorkerResult("reviewer", plan.name, decisions=tuple(decisions), held=tuple(held),
                        decide_ms=tuple(decide_ms), claim_ms=tuple(claim_ms), collisions=collisions,
                        failures=tuple(failures.kept), failure_count=failures.count, errors=tuple(errors.kept),
                        error_count=errors.count, finished_at=time.time())


def _release_quietly(book, me, answer_id: str, errors: _Log) -> None:
    from rag.records.reviews import release

    try:
        release(book, me, answer_id)
    except Exception as e:
        errors.add(f"release: {_exception(e)}")


def _ingest(plan: WorkerPlan, start) -> WorkerResult:
    from ingest.pipeline import ingest_paths
    from rag.embed import load_embedder
    from rag.store import committed_generation

    _one_thread(plan.settings)
    embedder = load_embedder(plan.settings)
    embedder.embed_query("warm up")
    text = PROBE_SOURCE.read_text(encoding="utf-8")
    probe = plan.probe_dir / PROBE_NAME
    last = committed_generation(plan.settings)
    passes = commits = 0
    errors = _Log()
    deadline = start()
    while time.time() < deadline:
        passes += 1
        # One changed line per pass: new bytes, so each pass replaces the last copy (a correction) and commits.
        probe.write_text(text + f"\nIngest pass {passes} of the review concurrency benchmark.\n", encoding="utf-8")
        try:
            report = ingest_paths([probe], plan.settings, progress=False, embedder=embedder)
        except Exception as e:
            errors.add(f"ingest_paths: {_exception(e)}")
            continue
        if report.skipped:
            errors.add(f"ingest skipped {report.skipped[0].path}: {report.skipped[0].reason}")
        if report.generation > last:
            commits += 1
            last = report.generation
    return WorkerResult("ingest", "", ingest_passes=passes, ingest_commits=commits, errors=tuple(errors.kept),
                        error_count=errors.count, finished_at=time.time())


def _auditor(plan: WorkerPlan, start) -> WorkerResult:
    """verify_chain on the live chain every AUDIT_EVERY_S, as an auditor might while people work."""
    from rag.records.book import open_book
    from rag.records.verify_chain import verify_chain

    book = open_book(plan.settings)
    runs = broken = 0
    breaks, errors = _Log(), _Log()
    deadline = start()
    while time.time() + AUDIT_EVERY_S < deadline:
        time.sleep(AUDIT_EVERY_S)
        try:
            report = verify_chain(book.db, book.checkpoints)
        except Exception as e:
            errors.add(f"verify_chain: {_exception(e)}")
            continue
        runs += 1
        if not report.holds:
            broken += 1
            breaks.add(f"{report.records} records read, {report.checkpoints} checkpoints: {report.breaks[0]}")
    book.db.dispose()
    return WorkerResult("auditor", "", verifications=runs, verifications_broken=broken, failures=tuple(breaks.kept),
                        errors=tuple(errors.kept), error_count=errors.count, finished_at=time.time())


# ---- the run (in the parent) ----

def fresh_postgres_database(admin_url: str) -> tuple[str, object]:
    """A new empty database on the cluster behind admin_url: (its URL, a function that drops it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"regcite_scratch_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        """Drop it; a scratch database a moment's server process still holds (FORCE may not end every one) is
        retried, then left with a warning: cleaning up never fails a run."""
        from sqlalchemy.exc import DBAPIError

        for attempt in range(5):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"' + (" WITH (FORCE)" if attempt else "")))
                break
            except DBAPIError as e:
                last = e
                time.sleep(0.5 * (attempt + 1))
        else:
            print(f"warning: could not drop the scratch database {name}: {last.orig}", file=sys.stderr)
        admin.dispose()
    return url, drop


def percentile(values, p: float) -> float | None:
    """Nearest rank; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)


def run_backend(backend: str, *, seconds: float = 120, askers: int = 8, reviewers: int = 4, postgres_url: str = "",
                work_dir: Path | None = None, keep: bool = False, check_before_claim: bool = False,
                log=print) -> dict:
    """One run on one backend; returns its figures and every invariant checked (see the module docstring)."""
    from ingest.pipeline import ingest_paths
    from rag.config import load_settings
    from rag.embed import load_embedder
    from rag.records.book import open_book
    from rag.records.users import Role, User, add_user

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "postgresql" and not postgres_url:
        raise ValueError("the postgresql backend needs an admin URL that may CREATE DATABASE (--postgres-url or "
                         "REGCITE_TEST_POSTGRES; `bash scripts/postgres.sh` prints one)")
    work = Path(tempfile.mkdtemp(prefix=f"regcite-review-{backend}-", dir=work_dir))
    database_url, drop = fresh_postgres_database(postgres_url) if backend == "postgresql" else ("", None)
    try:
        settings = load_settings(env={}, overrides={
            "data_dir": work / "data", "database_url": database_url, "audit_key_file": str(work / "keys" / "audit.key"),
            "llm_backend": "extractive"})
        t = time.perf_counter()
        embedder = load_embedder(settings)
        report = ingest_paths([CORPUS / "regulations", CORPUS / "reports"], settings, progress=False,
                              embedder=embedder)
        del embedder
        log(f"{backend}: ingested {report.added} documents, {report.clauses} clauses in "
            f"{time.perf_counter() - t:.1f} s")
        book = open_book(settings)
        admin = User("admin", Role.ADMIN)
        add_user(book, admin.name, Role.ADMIN, PASSWORD, by=admin)
        plans = [WorkerPlan("asker", f"asker{i + 1}", i, settings) for i in range(askers)]
        plans += [WorkerPlan("reviewer", f"reviewer{i + 1}", i, settings, check_before_claim=check_before_claim)
                  for i in range(reviewers)]
        for p in plans:
            add_user(book, p.name, Role(p.role), PASSWORD, by=admin)
        probe_dir = work / "probe"
        probe_dir.mkdir()
        plans += [WorkerPlan("ingest", "", 0, settings, probe_dir), WorkerPlan("auditor", "", 0, settings)]
        embed_backend = settings.embed_backend
        results, window = _run_workers(plans, seconds, log)
        figures = check(book, results, users_added=1 + askers + reviewers)
        book.db.dispose()
    finally:
        if drop is not None:
            drop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    asked = [ms for r in results for ms in r.ask_ms]
    decided = [ms for r in results for ms in r.decide_ms]
    claimed = [ms for r in results for ms in r.claim_ms]
    recorded = [ms for r in results for ms in r.record_ms]
    elapsed = max(r.finished_at for r in results) - window[0]
    auditor = next(r for r in results if r.role == "auditor")
    return {
        "backend": backend, "seconds": round(elapsed, 1), "planned_seconds": seconds, "askers": askers,
        "reviewers": reviewers, "check_before_claim": check_before_claim, "embed_backend": embed_backend,
        "answers": len(asked),
        "decisions": len(decided),
        "answers_per_s": round(len(asked) / elapsed, 2), "decisions_per_s": round(len(decided) / elapsed, 2),
        "decide_ms": {"p50": percentile(decided, 50), "p95": percentile(decided, 95), "max": percentile(decided, 100)},
        "ask_ms": {"p50": percentile(asked, 50), "p95": percentile(asked, 95), "max": percentile(asked, 100)},
        "record_ms": {"p50": percentile(recorded, 50), "p95": percentile(recorded, 95)},
        "claim_ms": {"p50": percentile(claimed, 50), "p95": percentile(claimed, 95)},
        "claims": sum(len(r.held) for r in results),
        "claims_ended_by": dict(Counter(h.ended_by for r in results for h in r.held)),
        "claim_collisions": sum(r.collisions for r in results),
        "ingest_passes": sum(r.ingest_passes for r in results),
        "ingest_commits": sum(r.ingest_commits for r in results),
        **figures,
        # verify_chain while appends go on: not an invariant here, because it reports false breaks on a live chain
        # (it reads the records before the checkpoints, so a record appended and signed in between looks cut off)
        "live_verify": {"runs": auditor.verifications, "with_breaks": auditor.verifications_broken,
                        "examples": list(auditor.failures)},
        "worker_errors": {r.name or r.role: list(r.errors) for r in results if r.errors},
        "worker_failures": {r.name or r.role: list(r.failures) for r in results if r.failures and r.role != "auditor"},
    }


def _run_workers(plans: list[WorkerPlan], seconds: float, log) -> tuple[list[WorkerResult], tuple[float, float]]:
    """Start every worker, let them all go at once when all are ready, and collect what each reports."""
    ctx = multiprocessing.get_context("spawn")
    messages, go, deadline = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    processes = [ctx.Process(target=worker_main, args=(p, messages, go, deadline), name=p.name or p.role,
                             daemon=True) for p in plans]
    for p in processes:
        p.start()
    results: list[WorkerResult] = []
    ready = 0
    t = time.perf_counter()
    limit = time.time() + READY_TIMEOUT_S
    try:
        while ready < len(plans) and not results:
            kind, payload = messages.get(timeout=max(1.0, limit - time.time()))
            if kind == "ready":
                ready += 1
            else:
                results.append(payload)  # died before it was ready: start at once, so the others end too
        begin = time.time()
        deadline.value = begin + (seconds if not results else 0)
        go.set()
        log(f"  {len(plans)} processes ready in {time.perf_counter() - t:.0f} s; running {seconds:.0f} s")
        limit = deadline.value + FINISH_GRACE_S
        while len(results) < len(plans):
            kind, payload = messages.get(timeout=max(1.0, limit - time.time()))
            if kind == "result":
                results.append(payload)
    except queue.Empty:
        raise RuntimeError(f"{len(plans) - len(results)} worker(s) neither reported nor died in time") from None
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    return results, (begin, deadline.value)


def check(book, results: list[WorkerResult], users_added: int) -> dict:
    """Hold what the workers reported against the records database and its chain."""
    from sqlalchemy import func, select

    from rag.records.tables import answers, decisions, records
    from rag.records.verify_chain import verify_chain

    with book.db.read() as conn:
        rows = conn.execute(select(records.c.seq, records.c.record_id, records.c.kind, records.c.subject)
                            .order_by(records.c.seq)).all()
        answer_rows = dict(conn.execute(select(answers.c.answer_id, answers.c.seq)).all())
        decision_rows = dict(conn.execute(select(decisions.c.decision_id, decisions.c.seq)).all())
        answers_in_index = conn.execute(select(func.count()).select_from(answers)).scalar_one()
    stored = {r.record_id: r for r in rows}
    reported = [(rid, seq, "answer") for r in results for rid, seq in r.answers]
    reported += [(rid, seq, "decision") for r in results for rid, seq, _ in r.decisions]
    times = Counter(rid for rid, _, _ in reported)
    lost = sorted(rid for rid in times if rid not in stored)
    duplicated = sorted(rid for rid, n in times.items() if n > 1)
    wrong_seq = sorted(rid for rid, seq, _ in reported if rid in stored and stored[rid].seq != seq)
    wrong_kind = sorted(rid for rid, _, kind in reported if rid in stored and stored[rid].kind != kind)
    unreported = sorted(r.record_id for r in rows if r.kind in ("answer", "decision") and r.record_id not in times)
    seqs = [r.seq for r in rows]
    kinds = Counter(r.kind for r in rows)
    # The derived tables are written in each record's transaction: one row per record, at the record's seq.
    index_mismatch = (
        answers_in_index != kinds["answer"]
        or any(answer_rows.get(r.record_id) != r.seq for r in rows if r.kind == "answer")
        or len(decision_rows) != kinds["decision"]
        or any(decision_rows.get(r.record_id) != r.seq for r in rows if r.kind == "decision"))
    per_answer = Counter(r.subject for r in rows if r.kind == "decision")
    decided_twice = sorted(a for a, n in per_answer.items() if n > 1)
    double_claims = overlapping_claims([h for r in results for h in r.held])
    report = verify_chain(book.db, book.checkpoints)
    chain_holds = report.holds and report.checkpoints == report.records and report.unsigned_tail == 0
    problems = {
        "lost": len(lost), "duplicated": len(duplicated), "unreported": len(unreported), "wrong_seq": len(wrong_seq),
        "wrong_kind": len(wrong_kind), "seq_gaps": int(seqs != list(range(1, len(seqs) + 1))),
        "users_added_mismatch": int(kinds["user_added"] != users_added), "derived_tables_mismatch": int(index_mismatch),
        "double_claims": len(double_claims), "decided_twice": len(decided_twice),
        "decide_failures": sum(r.failure_count for r in results if r.role == "reviewer"),
        "errors": sum(r.error_count for r in results),
        "chain_breaks": len(report.breaks) + int(not chain_holds and report.holds),
    }
    return {
        "records": len(rows), "records_by_kind": dict(kinds), "chain_holds": chain_holds,
        "chain": {"records": report.records, "head_seq": report.head_seq, "checkpoints": report.checkpoints,
                  "unsigned_tail": report.unsigned_tail, "breaks": [str(b) for b in report.breaks[:MAX_MESSAGES]]},
        "problems": problems, "ok": not any(problems.values()),
        "examples": {"lost": lost[:5], "duplicated": duplicated[:5], "unreported": unreported[:5],
                     "decided_twice": decided_twice[:5], "double_claims": double_claims[:5]},
    }


def overlapping_claims(held: list[Held]) -> list[str]:
    """Answers two reviewers held at once, each named with the two holds."""
    found = []
    by_answer: dict[str, list[Held]] = {}
    for h in held:
        by_answer.setdefault(h.answer_id, []).append(h)
    for answer_id, holds in by_answer.items():
        holds.sort(key=lambda h: h.claimed_at)
        for earlier, later in zip(holds, holds[1:]):
            if later.claimed_at < earlier.released_at and later.reviewer != earlier.reviewer:
                found.append(f"{answer_id}: {earlier.reviewer} held it {earlier.claimed_at:.6f}-"
                             f"{earlier.released_at:.6f}, {later.reviewer} claimed it at {later.claimed_at:.6f}")
    return found


def table(runs: list[dict]) -> str:
    head = ("| backend | seconds | answers | decisions | answers/s | decisions/s | decide p50 / p95 ms "
            "| ask p95 ms (of it, recording) | claim collisions | ingest commits | lost | duplicated | double claims "
            "| chain holds |")
    lines = [head, "| --- |" + " ---: |" * 12 + " --- |"]
    for r in runs:
        p = r["problems"]
        lines.append(
            f"| {r['backend']} | {r['seconds']:.0f} | {r['answers']:,} | {r['decisions']:,} | {r['answers_per_s']:.2f} "
            f"| {r['decisions_per_s']:.2f} | {_ms(r['decide_ms']['p50'])} / {_ms(r['decide_ms']['p95'])} "
            f"| {_ms(r['ask_ms']['p95'])} ({_ms(r['record_ms']['p95'])}) | {r['claim_collisions']:,} "
            f"| {r['ingest_commits']} | {p['lost']} | {p['duplicated']} | {p['double_claims']} "
            f"| {'yes' if r['chain_holds'] else 'NO'} |")
    return "\n".join(lines)


def _code_version() -> str:
    """The commit measured, with "+changes" when rag/ or ingest/ differ from it (the tree is shared while it runs)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rag", "ingest"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if dirty else "")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite, postgresql")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--askers", type=int, default=8)
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--postgres-url", default=os.environ.get("REGCITE_TEST_POSTGRES", ""),
                        help="admin URL that may CREATE DATABASE (default: $REGCITE_TEST_POSTGRES)")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's data directory (a PostgreSQL database is dropped all the same)")
    parser.add_argument("--check-before-claim", action="store_true",
                        help="reviewers look at an answer's decisions before claiming it, as the app does, not after")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        parser.error(f"--backends takes {', '.join(BACKENDS)}; got {args.backends!r}")
    if "postgresql" in backends and not args.postgres_url:
        parser.error("postgresql needs --postgres-url or REGCITE_TEST_POSTGRES (`bash scripts/postgres.sh` prints "
                     "one), or --backends sqlite")
    load_before, code = os.getloadavg(), _code_version()  # the tree is shared: say what the workers started on
    runs = []
    for backend in backends:
        run = run_backend(backend, seconds=args.seconds, askers=args.askers, reviewers=args.reviewers,
                          postgres_url=args.postgres_url, keep=args.keep, check_before_claim=args.check_before_claim)
        runs.append(run)
        bad = {k: v for k, v in run["problems"].items() if v}
        print(f"{backend}: {run['records']:,} records, claims {run['claims_ended_by']}, "
              + ("every invariant holds" if not bad else f"FAILED: {bad}"), flush=True)
        for who, texts in {**run["worker_failures"], **run["worker_errors"]}.items():
            for text in texts[:3]:
                print(f"  {who}: {text.splitlines()[0]}")
        live = run["live_verify"]
        print(f"  verify_chain on the live chain: {live['with_breaks']} of {live['runs']} runs reported a break"
              + (f", e.g. {live['examples'][0]}" if live["examples"] else ""))
    import sqlalchemy

    report = {
        "what": "askers, reviewers and an ingest at once on one records database; figures over the whole window, "
                "latencies per call (nearest-rank percentiles)",
        "command": "python benchmarks/review_concurrency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "code": code, "machine": platform.platform(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__,
        "embed_backend": runs[0]["embed_backend"], "questions": list(QUESTIONS),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()], "runs": runs,
    }
    print("\n" + table(runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
