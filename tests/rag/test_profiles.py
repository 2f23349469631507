"""Model profiles: prompt shape per family, and reasoning traces that never reach the answer, streamed or not."""
from __future__ import annotations

import pytest

from rag.llm.base import Message, Prompt
from rag.llm.profiles import PROFILES, StreamFilter, choose_profile, prepare_messages, split_reasoning
from rag.llm.scripted import ScriptedBackend

TRACE = "SECRET-TRACE the user wants 45 days maybe"


@pytest.mark.parametrize("model, expected", [
    ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-r1"),
    ("/models/deepseek_r1_distill_qwen_1.5b", "deepseek-r1"),
    ("SUFE-AIFLM-Lab/Fin-R1", "fin-r1"),
    ("smollm2", "plain"),
])
def test_auto_profile_is_recognised_from_the_model_name(model, expected):
    assert choose_profile("auto", model).name == expected


def test_explicit_profile_wins_over_the_model_name():
    assert choose_profile("plain", "DeepSeek-R1-Distill-Qwen-7B").name == "plain"


def test_deepseek_r1_gets_no_system_prompt_and_a_warm_temperature():
    messages = [Message("system", "RULES"), Message("user", "Q?")]
    prepared = prepare_messages(messages, PROFILES["deepseek-r1"])
    assert [m.role for m in prepared] == ["user"]
    assert prepared[0].content.startswith("RULES") and prepared[0].content.endswith("Q?")
    assert PROFILES["deepseek-r1"].temperature == pytest.approx(0.6)
    assert prepare_messages(messages, PROFILES["qwen2.5"]) == messages


RAW = {
    "closed": (f"<think>{TRACE}</think>\n\nCreditors have 30 days [1].", "Creditors have 30 days [1]."),
    "unterminated": (f"<think>{TRACE}", ""),
    "opened_by_template": (f"{TRACE}\n</think>\nCreditors have 30 days [1].", "Creditors have 30 days [1]."),
    "fin_r1": (f"<think>{TRACE}</think>\n<answer>Creditors have 30 days [1].</answer>", "Creditors have 30 days [1]."),
    "fin_r1_unterminated": (f"<think>{TRACE}</think><answer>Creditors have 30 days [1].",
                            "Creditors have 30 days [1]."),
    "none": ("Creditors have 30 days [1].", "Creditors have 30 days [1]."),
}


@pytest.mark.parametrize("case", sorted(RAW))
def test_split_reasoning_keeps_the_trace_out_of_the_answer(case):
    raw, expected = RAW[case]
    answer, reasoning = split_reasoning(raw)
    assert answer == expected
    assert "SECRET-TRACE" not in answer and "<think>" not in answer and "<answer>" not in answer
    if "SECRET" in raw:
        assert "SECRET-TRACE" in reasoning


# A bare </think> (the template opened the trace) is recognised in a stream only by the R1-family profiles.
STREAM_CASES = [(c, p) for c in sorted(RAW) for p in ("plain", "deepseek-r1", "fin-r1")
                if not (c == "opened_by_template" and p == "plain")]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 1000])
@pytest.mark.parametrize("case, profile", STREAM_CASES)
def test_streamed_tokens_never_carry_a_trace_at_any_chunk_size(case, profile, chunk):
    raw, expected = RAW[case]
    f = StreamFilter(PROFILES[profile])
    pieces = [f.feed(raw[i:i + chunk]) for i in range(0, len(raw), chunk)] + [f.flush()]
    visible = "".join(pieces)
    assert "SECRET" not in visible and "think>" not in visible
    assert visible.replace("<answer>", "").replace("</answer>", "").strip() == expected


def test_a_deepseek_stream_opened_by_the_template_hides_the_trace_until_think_closes():
    f = StreamFilter(PROFILES["deepseek-r1"])
    assert f.feed(TRACE) == ""
    assert f.feed("</think>Thirty days.") == "Thirty days."
    assert f.flush() == ""


def test_a_deepseek_stream_without_any_trace_is_released_at_the_end():
    f = StreamFilter(PROFILES["deepseek-r1"])
    assert f.feed("Thirty ") + f.feed("days.") + f.flush() == "Thirty days."


def test_a_lone_angle_bracket_is_not_swallowed():
    f = StreamFilter(PROFILES["plain"])
    assert f.feed("a < b and <b>x</b>") + f.flush() == "a < b and <b>x</b>"


def test_backend_completion_and_stream_agree_and_hide_the_trace():
    backend = ScriptedBackend([RAW["fin_r1"][0]], profile=PROFILES["fin-r1"], chunk_chars=2)
    tokens: list[str] = []
    completion = backend.complete(Prompt.of_messages([Message("user", "Q?")]), on_token=tokens.append)
    assert completion.text == "Creditors have 30 days [1]."
    assert "SECRET-TRACE" in completion.reasoning
    assert "SECRET" not in "".join(tokens)
