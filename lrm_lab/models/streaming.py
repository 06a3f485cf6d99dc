"""Hooks into `transformers.generate`: a batched token streamer and a stop-on-cancel criterion."""

from __future__ import annotations

import threading
import time

import torch
from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from lrm_lab.models.base import OnTokens


class BatchStreamer(BaseStreamer):
    """Collect the tokens of every sequence in a batch and pass their text to a callback.

    `generate` calls `put` once with the prompt ids, then once per step with the new token of
    each sequence, shape (B,). The callback runs at most every `interval` seconds.
    """

    def __init__(
        self, tokenizer, batch_size: int, stop_ids: set[int], on_tokens: OnTokens, interval: float = 0.25
    ):
        self.tokenizer = tokenizer
        self.stop_ids = frozenset(stop_ids)
        self.on_tokens = on_tokens
        self.interval = interval
        self.token_ids: list[list[int]] = [[] for _ in range(batch_size)]
        self.finished = [False] * batch_size
        self.seen_prompt = False
        self.steps = 0
        self.last_call = 0.0

    def put(self, value: torch.Tensor) -> None:
        if not self.seen_prompt:  # the first call carries the prompt, which is not streamed
            self.seen_prompt = True
            return
        self.steps += 1
        new_tokens = value.reshape(-1).tolist()  # (B,)
        for row, token_id in enumerate(new_tokens):
            if not self.finished[row]:
                self.token_ids[row].append(token_id)
                self.finished[row] = token_id in self.stop_ids
        if time.monotonic() - self.last_call >= self.interval:
            self.flush()

    def end(self) -> None:
        self.flush()

    def flush(self) -> None:
        self.last_call = time.monotonic()
        texts = [self.tokenizer.decode(ids, skip_special_tokens=True) for ids in self.token_ids]
        self.on_tokens(texts, self.steps)


class CancelCriterion(StoppingCriteria):
    """Stop every sequence at the next step once the cancel event is set."""

    def __init__(self, cancel: threading.Event):
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        batch_size = input_ids.shape[0]
        return torch.full((batch_size,), self.cancel.is_set(), dtype=torch.bool, device=input_ids.device)
