"""Subprocess body for the resume test: a run that answers one question every `delay` seconds."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from eval_fakes import answer, scripted  # noqa: E402

from evals.questions import load_set  # noqa: E402
from evals.run import run_set  # noqa: E402
from rag.config import load_settings  # noqa: E402

set_path, out, delay = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
questions = load_set(set_path)
script = {q.qid: answer(q.question, list(q.gold), list(q.gold), "30 days") for q in questions}
settings = load_settings(env={}, overrides={"data_dir": out / "data"})
run_set(questions, settings, out, answer_path=scripted(script, delay), progress=False)
