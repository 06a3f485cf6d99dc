"""A backend with canned outputs, for tests of the logic above the model seam."""

from __future__ import annotations

import threading
from collections import deque

from lrm_lab.models.base import Completion, Message, ModelBackend, ModelInfo, OnTokens, SamplingParams

FAKE_INFO = ModelInfo(
    model_id="fake",
    display_name="fake backend",
    revision=None,
    source="fake",
    device="cpu",
    dtype="none",
    parameters=0,
    load_seconds=0.0,
)


class FakeBackend(ModelBackend):
    """Return queued outputs in order; a completion's log-probability is one value per word.

    `logprob_per_word` maps a completion text to the value given to each of its words, so
    tests can decide which candidate a self-scoring strategy should prefer.
    """

    def __init__(self, outputs: list[str], logprob_per_word: dict[str, float] | None = None):
        super().__init__()
        self.info = FAKE_INFO
        self.outputs = deque(outputs)
        self.logprob_per_word = logprob_per_word or {}
        self.calls: list[tuple[list[Message], SamplingParams]] = []

    def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        *,
        on_tokens: OnTokens | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        with self.lock:
            self.calls.append((messages, params))
            if len(self.outputs) < params.n:
                raise RuntimeError(f"FakeBackend has {len(self.outputs)} outputs left, {params.n} requested")
            texts = [self.outputs.popleft() for _ in range(params.n)]
        if on_tokens is not None:
            on_tokens(texts, max(len(text.split()) for text in texts))
        return [Completion(text, len(text.split()), "stop") for text in texts]

    def logprobs(self, messages: list[Message], completions: list[str]) -> list[list[float]]:
        return [[self.logprob_per_word.get(text, -1.0)] * len(text.split()) for text in completions]
