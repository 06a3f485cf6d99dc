"""The baseline technique on a fake backend and on the tiny random model."""

from lrm_lab.models.fake import FakeBackend
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques import RunContext
from lrm_lab.techniques.baseline import BaselineOptions, run_baseline

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")


def test_baseline_is_greedy_single_sample():
    backend = FakeBackend(["6 * 7 = 42"])
    result = run_baseline(QUESTION, BaselineOptions(max_new_tokens=16), RunContext(model=backend))
    params = backend.calls[0][1]
    assert params.n == 1
    assert params.temperature == 0.0
    assert result.answer == "42"
    assert result.verdict == Verdict.CORRECT


def test_baseline_prompt_asks_for_answer_line():
    backend = FakeBackend(["Answer: 42"])
    run_baseline(QUESTION, BaselineOptions(), RunContext(model=backend))
    prompt = backend.calls[0][0][-1]["content"]
    assert prompt.startswith(QUESTION.text)
    assert "Answer:" in prompt


def test_baseline_reports_progress(tiny):
    reports = []
    result = run_baseline(QUESTION, BaselineOptions(max_new_tokens=8), RunContext(model=tiny, report=reports.append))
    assert reports
    assert reports[-1].trace == result.trace
    assert 0 < result.completion_tokens <= 8


def test_baseline_cancelled_before_start(tiny):
    context = RunContext(model=tiny)
    context.cancel.set()
    tiny.stop_ids = {tiny.tokenizer.unk_token_id}  # the random model would often stop at once
    result = run_baseline(QUESTION, BaselineOptions(max_new_tokens=64), context)
    assert result.verdict == Verdict.CANCELLED
    assert result.completion_tokens < 64
