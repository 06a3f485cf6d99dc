"""The default backend: a transformers causal LM in this process."""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteriaList

from lrm_lab.models.base import (
    AdapterTrainer,
    Completion,
    FlowSettings,
    FlowTrainer,
    LoraSettings,
    Message,
    ModelBackend,
    ModelInfo,
    OnTokens,
    SamplingParams,
)
from lrm_lab.models.gflownet import flow_adapter, stored_lora
from lrm_lab.models.lora import check_targets, temporary_lora
from lrm_lab.models.streaming import BatchStreamer, CancelCriterion

log = logging.getLogger(__name__)


class TransformersBackend(ModelBackend):
    """Generate and score with a loaded `PreTrainedModel` and its tokenizer."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, info: ModelInfo):
        super().__init__()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.info = info
        self.device = next(model.parameters()).device

        # Batched generation pads on the left so that every row's last token is its prompt's end.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stop_ids = self._stop_token_ids()

    def _stop_token_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        if ids is None:
            ids = []
        elif not isinstance(ids, list):
            ids = [ids]
        stop_ids = set(ids)
        if self.tokenizer.eos_token_id is not None:
            stop_ids.add(self.tokenizer.eos_token_id)
        return stop_ids

    def check_adapter(self, settings: LoraSettings) -> None:
        check_targets(self.model, settings.target_modules)

    def temporary_adapter(self, settings: LoraSettings) -> AbstractContextManager[AdapterTrainer]:
        return temporary_lora(self, settings)

    def flow_adapter(self, lora: LoraSettings, flow: FlowSettings, likelihood_weight: float
                     ) -> AbstractContextManager[FlowTrainer]:
        return flow_adapter(self, lora, flow, likelihood_weight)

    def stored_adapter(self, folder: Path) -> AbstractContextManager[None]:
        return stored_lora(self, folder)

    def render_prompt(self, messages: list[Message]) -> str:
        """Apply the chat template, or join the turns as plain text for a base model without one."""
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        lines = [f"{message['role'].capitalize()}: {message['content']}" for message in messages]
        return "\n\n".join(lines) + "\n\nAssistant:"

    def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        *,
        on_tokens: OnTokens | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        prompt = self.render_prompt(messages)
        encoded = self.tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(self.device)
        prompt_length = encoded.input_ids.shape[1]

        # Sampling settings: greedy at temperature 0; otherwise the pure tempered distribution
        # (top_k=0 switches off the top-k=50 that transformers applies by default).
        sampling = {"do_sample": False}
        if params.temperature > 0:
            sampling = {
                "do_sample": True,
                "temperature": params.temperature,
                "top_p": params.top_p,
                "top_k": 0,
                "num_return_sequences": params.n,
            }
        if params.ignore_eos:
            sampling["min_new_tokens"] = params.max_new_tokens  # suppresses the stop tokens until then
        cancel = cancel or threading.Event()
        streamer = None
        if on_tokens is not None:
            streamer = BatchStreamer(self.tokenizer, params.n, self.stop_ids, on_tokens)

        with self.lock:
            if params.seed is not None:
                torch.manual_seed(params.seed)
            with torch.inference_mode():
                sequences = self.model.generate(
                    **encoded,
                    **sampling,
                    max_new_tokens=params.max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=sorted(self.stop_ids),
                    stopping_criteria=StoppingCriteriaList([CancelCriterion(cancel)]),
                    streamer=streamer,
                )  # (n, prompt_length + generated)

        new_tokens = sequences[:, prompt_length:].tolist()
        return [self._completion(row, params.max_new_tokens, cancel.is_set()) for row in new_tokens]

    def _completion(self, token_ids: list[int], max_new_tokens: int, cancelled: bool) -> Completion:
        # Rows that stopped early are padded after their stop token: keep tokens up to the stop.
        stop_at = next((i for i, token_id in enumerate(token_ids) if token_id in self.stop_ids), None)
        if stop_at is not None:
            kept, reason = token_ids[: stop_at + 1], "stop"
        else:
            kept, reason = token_ids, "length"
        if cancelled and reason != "stop" and len(kept) < max_new_tokens:
            reason = "cancelled"
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        return Completion(text=text, completion_tokens=len(kept), finish_reason=reason, token_ids=tuple(kept))

    def logprobs(self, messages: list[Message], completions: list[str]) -> list[list[float]]:
        prompt_ids = self.tokenizer(self.render_prompt(messages), add_special_tokens=False).input_ids
        results = []
        with self.lock, torch.inference_mode():
            # One forward pass per completion keeps memory flat; scoring is cheap next to generation.
            for text in completions:
                # NOTE: re-tokenising the decoded text can split it differently from the sampled
                # ids, so a score may differ slightly from the sampling-time log-probability.
                completion_ids = self.tokenizer(text, add_special_tokens=False).input_ids
                if not completion_ids:
                    results.append([])
                    continue
                input_ids = torch.tensor([prompt_ids + completion_ids], device=self.device)  # (1, T)
                logits = self.model(input_ids).logits[0, :-1].float()  # (T-1, V): predicts tokens 1..T-1
                log_probs = torch.log_softmax(logits, dim=-1)
                targets = input_ids[0, 1:]  # (T-1,)
                token_log_probs = log_probs.gather(-1, targets[:, None])[:, 0]  # (T-1,)
                results.append(token_log_probs[len(prompt_ids) - 1 :].tolist())
        return results
