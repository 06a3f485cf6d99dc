"""Throw-away LoRA adapters on a transformers model: add, train a few steps, delete.

The adapter is injected into the loaded model in place with peft, trained with AdamW on the
reply tokens only, and unloaded at the end of the ``with`` block, which puts every original
layer back. The base weights are frozen throughout, so they are the same afterwards.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from lrm_lab.errors import InputError
from lrm_lab.models.base import LoraSettings, TrainingExample

if TYPE_CHECKING:
    from lrm_lab.models.transformers_backend import TransformersBackend

log = logging.getLogger(__name__)

MAX_TRAIN_TOKENS = 1024  # a longer example keeps its last tokens, where the reply is
IGNORE_INDEX = -100  # label of a token that adds nothing to the loss (the prompt)


class LoraTrainer:
    """Trains the adapter of a peft-wrapped model on chats and their target replies."""

    def __init__(self, backend: TransformersBackend, peft_model: PeftModel, settings: LoraSettings):
        self.backend = backend
        self.peft_model = peft_model
        self.parameters = [p for p in peft_model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=settings.learning_rate, weight_decay=0.0)
        self.steps = 0

    def step(self, examples: Sequence[TrainingExample], cancel: threading.Event | None = None) -> float | None:
        """Take one optimiser step on the examples and return the mean loss over their reply tokens.

        Gradients are accumulated one example at a time, so that ``cancel`` is checked between
        examples; when it is set the step is abandoned and None is returned.
        """
        if not examples:
            raise ValueError("A training step needs at least one example.")
        rows = [self._tokenise(example) for example in examples]
        total_targets = sum(sum(label != IGNORE_INDEX for label in labels) for _, labels in rows)

        # Mean cross-entropy over all reply tokens of the batch, accumulated example by example.
        self.peft_model.train()
        try:
            self.optimizer.zero_grad()
            loss_sum = 0.0
            for ids, labels in rows:
                if cancel is not None and cancel.is_set():
                    self.optimizer.zero_grad()
                    return None
                input_ids = torch.tensor([ids], device=self.backend.device)  # (1, T)
                targets = torch.tensor([labels], device=self.backend.device)  # (1, T)
                share = sum(label != IGNORE_INDEX for label in labels) / total_targets
                loss = self.peft_model(input_ids=input_ids, labels=targets).loss * share  # mean over this reply
                loss.backward()
                loss_sum += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(self.parameters, max_norm=1.0)
            self.optimizer.step()
        finally:
            self.peft_model.eval()
        self.steps += 1
        return loss_sum

    def _tokenise(self, example: TrainingExample) -> tuple[list[int], list[int]]:
        """Return the chat's and reply's token ids, and labels that count only the reply and its end token."""
        tokenizer = self.backend.tokenizer
        prompt_ids = tokenizer(self.backend.render_prompt(example.messages), add_special_tokens=False).input_ids
        target_ids = tokenizer(example.target, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        ids = (prompt_ids + target_ids)[-MAX_TRAIN_TOKENS:]
        labels = ([IGNORE_INDEX] * len(prompt_ids) + target_ids)[-MAX_TRAIN_TOKENS:]
        return ids, labels


@contextmanager
def temporary_lora(backend: TransformersBackend, settings: LoraSettings) -> Iterator[LoraTrainer]:
    """Hold the model's lock, add a LoRA adapter, yield its trainer, and remove the adapter.

    The adapter is removed when the block ends, also when it raises or is cancelled.
    """
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        target_modules=list(settings.target_modules),
        lora_dropout=0.0,
        bias="none",
    )
    with injected_adapter(backend, config, seed=settings.seed) as peft_model:
        yield LoraTrainer(backend, peft_model, settings)


@contextmanager
def injected_adapter(backend: TransformersBackend, config: LoraConfig | None = None, *, seed: int | None = None,
                     folder: Path | None = None) -> Iterator[PeftModel]:
    """Hold the model's lock and inject a new adapter (``config``) or a saved one (``folder``) for the block.

    The base weights are frozen while the adapter is on. When the block ends, also on an
    exception, the original layers are put back unmerged and every requires_grad flag is restored.
    """
    with backend.lock:
        model = backend.model
        if isinstance(model, PeftModel) or getattr(model, "peft_config", None):
            raise InputError("The loaded model already has an adapter on; a second adapter cannot be added to it.")
        if config is not None:
            check_targets(model, tuple(config.target_modules))
        requires_grad = {name: parameter.requires_grad for name, parameter in model.named_parameters()}
        if seed is not None:
            torch.manual_seed(seed)  # LoRA's A matrices start random, its B matrices at zero

        # Both calls inject the adapter's layers in place; get_peft_model also freezes the base weights.
        with warnings.catch_warnings():
            # peft 0.21 reads transformers' deprecated is_gradient_checkpointing, which warns on every call.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            if folder is not None:
                peft_model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
            else:
                peft_model = get_peft_model(model, config)
        try:
            peft_model.eval()
            yield peft_model
        finally:
            # unload puts every original layer back without merging the adapter into it.
            backend.model = peft_model.unload().eval()
            for attribute in ("peft_config", "_hf_peft_config_loaded"):
                if attribute in vars(backend.model):
                    delattr(backend.model, attribute)
            for name, parameter in backend.model.named_parameters():
                parameter.requires_grad_(requires_grad.get(name, True))
                parameter.grad = None
            log.debug("adapter removed")


def check_targets(model: torch.nn.Module, targets: tuple[str, ...]) -> None:
    """Raise InputError naming the target modules that the model does not have."""
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    missing = [target for target in targets if target not in names]
    if missing:
        raise InputError(
            f"The model has no linear layers named {', '.join(missing)}; "
            f"choose target modules from {', '.join(sorted(names))}."
        )
