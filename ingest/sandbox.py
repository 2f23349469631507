"""Parse files in a worker process under memory, CPU and wall-clock limits, so one hostile file cannot hang or
exhaust the ingest (or the app that runs it).

The worker (`python -m ingest.sandbox`) is started once and reused across files, so a run pays the interpreter's
start-up once, not per file; a worker that a file killed or timed out is replaced before the next one. Requests and
results travel over its stdin/stdout as length-prefixed pickles; the parent unpickles only the types a parse
returns, so a parser subverted by a file cannot make the parent run code.
"""
from __future__ import annotations

import io
import logging
import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]  # where the ingest package lives, for the worker's sys.path
_HEADER = struct.Struct(">Q")  # every frame: its length in bytes, then the pickle
_READY = b"ready"  # the worker's first frame: imports done, limits set
STARTUP_S = 120  # how long a worker may take to start (imports on a busy machine), apart from any file's time
# What a result may contain; anything else in the worker's answer is refused, not constructed.
_ALLOWED = {
    "ingest.load": {"LoadedText"}, "ingest.identify": {"DocumentInfo"},
    "rag.types": {"Clause", "CharSpan", "PageSpan", "Kind"}, "datetime": {"date"},
}


@dataclass(frozen=True)
class ParseLimits:
    """What one file's parse may use; the defaults live in rag.config.Settings (parse_*, max_file_mb)."""

    timeout_s: float = 60.0  # wall clock, and the CPU seconds the worker may add while parsing it
    memory_mb: int = 1024  # address space the worker may grow by while parsing it
    max_file_mb: int = 200  # larger files are skipped before any parsing

    @classmethod
    def of(cls, settings) -> "ParseLimits":
        return cls(settings.parse_timeout_s, settings.parse_memory_mb, settings.max_file_mb)


def parse_file(path: Path, sha: str, max_clause_chars: int):
    """Load, identify and split one file (a pure function of its bytes): what the worker runs, in-process here."""
    from ingest.clauses import split_clauses
    from ingest.identify import identify
    from ingest.load import load_file

    loaded = load_file(path)
    info = identify(path, loaded)
    clauses = split_clauses(loaded, info, sha[:16], max_clause_chars)
    if not clauses:
        raise DocumentError(str(path), "no clauses or text to index")
    return loaded, info, clauses


class ParseSandbox:
    """One worker process, used by one thread at a time: `parse(path, sha, max_clause_chars)` returns what
    parse_file returns or raises DocumentError naming the limit a file broke."""

    def __init__(self, limits: ParseLimits = ParseLimits()):
        self.limits = limits
        self.started = 0  # workers started, for the measurement of the start-up cost
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> "ParseSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # the worker's loop ends at end of input
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def parse(self, path: Path, sha: str, max_clause_chars: int):
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise DocumentError(str(path), f"cannot read the file: {e.strerror or e}") from None
        if size > self.limits.max_file_mb * 1024 * 1024:
            raise DocumentError(str(path), f"{size / 1024 / 1024:.0f} MB is over the {self.limits.max_file_mb} MB "
                                           "file size limit (max_file_mb); split the file or raise the limit")
        with self._lock:
            return self._ask(path, (str(path), sha, max_clause_chars, self.limits.timeout_s))

    def _ask(self, path: Path, request: tuple):
        proc = self._worker(path)
        deadline = time.monotonic() + self.limits.timeout_s  # from a ready worker: start-up is not the file's time
        try:
            _write_frame(proc.stdin, pickle.dumps(request))
            answer = _read_frame(proc.stdout, deadline)
        except TimeoutError:
            self._discard()
            raise DocumentError(str(path), f"took longer than {self.limits.timeout_s:g} s to parse "
                                           "(parse_timeout_s); the file may be malformed or hostile") from None
        except (OSError, EOFError):
            raise DocumentError(str(path), self._death()) from None
        try:
            kind, value = _restricted_loads(answer)
        except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as e:
            self._discard()  # a worker that answers with anything else is not trusted with another file
            raise DocumentError(str(path), f"the parse worker's answer was refused ({e}); the file may be "
                                           "hostile") from None
        if kind == "ok":
            return value
        if kind == "memory":
            self._discard()  # a worker that ran out of memory may hold half-built state: start afresh
            raise DocumentError(str(path), self._memory_reason())
        if kind == "unexpected":
            self._discard()
        raise DocumentError(str(path), value)

    def _worker(self, path: Path) -> subprocess.Popen:
        """The running worker, or a new one once it says it is ready (imports done, limits set)."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._discard()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", ""))
                                                             if p),
               # one thread: native pools reserve address space per thread, which the memory limit counts
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ingest.sandbox", str(self.limits.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT,
        )
        self.started += 1
        try:
            ready = _read_frame(self._proc.stdout, time.monotonic() + STARTUP_S)
        except (TimeoutError, EOFError, OSError):
            ready = b""
        if ready != _READY:
            self._discard()
            raise DocumentError(str(path), f"the parse worker did not start within {STARTUP_S} s (see the log "
                                           "above); nothing could be parsed")
        return self._proc

    def _discard(self) -> int | None:
        """Kill the worker where it still runs; its exit status (None when there was none)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe to a dead worker
                pass
        return code

    def _death(self) -> str:
        """Why the worker died mid-parse, from how it ended."""
        code = self._discard()
        if code == -signal.SIGXCPU:
            return (f"used more than {self.limits.timeout_s:g} s of CPU to parse (parse_timeout_s); the file may be "
                    "malformed or hostile")
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return f"the parser was killed ({name}), most likely by the {self.limits.memory_mb} MB parse memory " \
                   "limit (parse_memory_mb); the file may be malformed or hostile"
        return f"the parser exited unexpectedly (exit code {code}); the file may be malformed or hostile"

    def _memory_reason(self) -> str:
        return (f"exceeded the {self.limits.memory_mb} MB parse memory limit (parse_memory_mb); the file may be "
                "malformed or hostile (a decompression bomb?)")


def _write_frame(stream, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream, deadline: float | None) -> bytes:
    header = _read_exactly(stream, _HEADER.size, deadline)
    return _read_exactly(stream, _HEADER.unpack(header)[0], deadline)


def _read_exactly(stream, n: int, deadline: float | None) -> bytes:
    """n bytes from a pipe, waiting at most until deadline (monotonic) for each; EOFError if it closes first."""
    fd = stream.fileno()
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _ResultUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the parse worker sent a {module}.{name}, which no parse returns")


def _restricted_loads(data: bytes):
    return _ResultUnpickler(io.BytesIO(data)).load()


# The worker side ---------------------------------------------------------------------------------------------


def _address_space() -> int:
    """This process's current virtual size in bytes (Linux), or 0 where /proc does not say."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _peak_address_space() -> int:
    """The most virtual memory this process has held, in bytes (Linux's VmPeak), or 0 where /proc does not say."""
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith("VmPeak:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return 0


def _limit_memory(extra_mb: int) -> int:
    """Cap the address space at its current size plus extra_mb; the cap in bytes, or 0 where it cannot be set."""
    import resource

    base = _address_space()
    if not base:
        log.warning("cannot read this process's size: parsing runs without a memory limit on this platform")
        return 0
    limit = base + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


def _hit_the_limit(limit: int, peak_before: int) -> bool:
    """Whether this parse grew the process to within 5% of its memory cap: then a parser's failure (lxml reports a
    failed allocation as "unknown error") was the memory limit, whatever it said."""
    peak = _peak_address_space()
    return bool(limit) and peak > peak_before and peak >= 0.95 * limit


def _limit_cpu(seconds: float) -> None:
    """Let the worker add at most `seconds` of CPU from now: RLIMIT_CPU counts the whole life of the process."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(math.ceil(usage.ru_utime + usage.ru_stime + seconds)) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _serve(memory_mb: int) -> int:
    # Results go out on a private copy of stdout; fd 1 becomes stderr so no library's print can corrupt a frame.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    # Import what parsing needs before the limit, so the limit bounds what a file makes the worker grow by.
    import ingest.clauses  # noqa: F401
    import ingest.identify  # noqa: F401
    import ingest.load  # noqa: F401
    import lxml.html  # noqa: F401
    import pypdf  # noqa: F401

    limit = _limit_memory(memory_mb)
    _write_frame(out, _READY)
    while True:
        try:
            path, sha, max_chars, cpu_s = pickle.loads(_read_frame(inp, None))
        except EOFError:
            return 0
        _limit_cpu(cpu_s)
        peak_before = _peak_address_space()
        try:
            answer = ("ok", parse_file(Path(path), sha, max_chars))
        except MemoryError:
            answer = ("memory", "")
        except DocumentError as e:
            answer = ("memory", "") if _hit_the_limit(limit, peak_before) else ("error", e.reason)
        except RecursionError:
            answer = ("error", "nested too deeply to parse; the file may be malformed or hostile")
        except Exception as e:  # noqa: BLE001 - a parser bug on one file must reach the report, not kill the run
            if _hit_the_limit(limit, peak_before):
                answer = ("memory", "")
            else:
                logging.getLogger("ingest").exception("parsing %s failed", path)
                answer = ("unexpected", f"unexpected error: {type(e).__name__}: {e}")
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload = pickle.dumps(("memory", ""))
        _write_frame(out, payload)
        if answer[0] in ("memory", "unexpected"):
            return 0
        del answer, payload


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(_serve(int(sys.argv[1])))
