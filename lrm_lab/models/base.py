"""The model seam: what every backend offers to techniques, and the values it returns."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from lrm_lab.errors import InputError

Message = dict[str, str]  # one chat turn: {"role": "user", "content": "..."}
OnTokens = Callable[[list[str], int], None]  # partial text of every sequence, and decoding steps so far

MAX_SAMPLES = 64
MAX_NEW_TOKENS = 4096


@dataclass(frozen=True)
class SamplingParams:
    """How to decode: greedy when temperature is 0, else `n` samples in one batched call."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int | None = None
    ignore_eos: bool = False  # generate exactly max_new_tokens (for benchmarks of equal length)

    def __post_init__(self) -> None:
        if not 1 <= self.n <= MAX_SAMPLES:
            raise InputError(f"n must be between 1 and {MAX_SAMPLES} samples, got {self.n}.")
        if self.temperature < 0 or self.temperature > 5:
            raise InputError(f"temperature must be between 0 and 5, got {self.temperature}.")
        if self.temperature == 0 and self.n > 1:
            raise InputError("Greedy decoding (temperature 0) gives one answer: set n to 1 or raise the temperature.")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p}.")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InputError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {self.max_new_tokens}.")


@dataclass(frozen=True)
class Completion:
    """One generated continuation."""

    text: str
    completion_tokens: int  # generated tokens up to and including the end-of-turn token
    finish_reason: Literal["stop", "length", "cancelled"]
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """Identity of the loaded model, shown in the UI header and stored with every run."""

    model_id: str  # what the user picked: "embedded", a hub id, a folder or a .gguf path
    display_name: str
    revision: str | None  # hub commit, or package version and file hash for the embedded model
    source: Literal["embedded", "hub", "local", "gguf", "fake"]
    device: str
    dtype: str
    parameters: int
    load_seconds: float
    chat_template_hash: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class LoraSettings:
    """A LoRA adapter's shape and how fast it learns (Hu et al. 2021, "LoRA")."""

    rank: int = 8
    alpha: float = 16.0  # the update is scaled by alpha / rank
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    learning_rate: float = 1e-3
    seed: int | None = None  # seeds the adapter's random initialisation


@dataclass(frozen=True)
class TrainingExample:
    """A chat and the assistant reply the model should learn to give to it."""

    messages: list[Message]
    target: str


OBJECTIVES = ("tb", "tb_batch", "subtb")


@dataclass(frozen=True)
class FlowSettings:
    """Settings that train the adapter towards sampling in proportion to the reward."""

    objective: Literal["tb", "tb_batch", "subtb"] = "tb_batch"
    problems: int = 1  # number of learned log Z values, one per training problem ("tb" only)
    log_z_learning_rate: float = 0.1  # log Z moves much faster than the adapter, as in Malkin et al. 2022
    subtb_lambda: float = 1.0  # sub-trajectory weight lambda^(j - i) of the pair of prefixes (i, j)
    # Learning rates fall linearly to a tenth over this many steps, so the last steps settle; 0 keeps them.
    decay_steps: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}.")


@dataclass(frozen=True)
class FlowSequence:
    """One sampled sequence and its log-reward, as the training step takes it.

    ``log_rewards`` contains one value, the log-reward of the whole sequence, for trajectory
    balance. For sub-trajectory balance it contains one per prefix length 0..len(content), the
    log-reward the sequence would get if it stopped there.
    """

    token_ids: tuple[int, ...]  # generated tokens, ending with a stop token when the model stopped
    log_rewards: tuple[float, ...]


@dataclass(frozen=True)
class FlowStepStats:
    """Measurements of one optimiser step, for the curves."""

    loss: float
    log_z: float  # the learned value for "tb"; the batch's estimate for "tb_batch" and "subtb"
    mean_log_reward: float  # mean log R over the batch, base likelihood term included
    mean_log_pf: float  # mean log P_F(y) of the batch under the sampler before the step


class AdapterTrainer(Protocol):
    """A temporary adapter being trained: one optimiser step per call."""

    def step(self, examples: Sequence[TrainingExample], cancel: threading.Event | None = None) -> float | None:
        """Take one optimiser step on the batch and return its mean loss over the target tokens.

        Returns None without stepping when ``cancel`` is set before the step is complete.
        """


class FlowTrainer(Protocol):
    """A GFlowNet adapter being trained; see models/gflownet.py."""

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """Return the token ids of the chat's prompt, as sampling sees it."""

    def decode(self, token_ids: list[int]) -> str:
        """Return the text of generated token ids, special tokens left out, as a Completion's text is."""

    def step(self, prompt_ids: list[int], sequences: Sequence[FlowSequence], problem: int = 0,
             cancel: threading.Event | None = None) -> FlowStepStats | None:
        """Take one optimiser step on sequences sampled for one prompt; None when ``cancel`` is set."""

    def sequence_log_probs(self, prompt_ids: list[int], token_ids: Sequence[Sequence[int]]) -> list[float]:
        """Return log P_F of each sequence under the current sampler."""

    def save(self, folder: Path, extra: dict) -> None:
        """Write the adapter and the lab's description of it to ``folder``."""


class ModelBackend(ABC):
    """A loaded causal language model. Subclasses implement `generate` and `logprobs`."""

    info: ModelInfo

    def __init__(self) -> None:
        # Held by everything that runs or changes the model, so that requests never interleave.
        self.lock = threading.RLock()

    @abstractmethod
    def generate(
        self,
        messages: list[Message],
        params: SamplingParams,
        *,
        on_tokens: OnTokens | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Generate `params.n` completions of one chat in a single batched call."""

    @abstractmethod
    def logprobs(self, messages: list[Message], completions: list[str]) -> list[list[float]]:
        """Return each completion's per-token log-probabilities under the model (temperature 1)."""

    def check_adapter(self, settings: LoraSettings) -> None:
        """Raise InputError if ``settings`` cannot make an adapter on this model, before any work is done."""
        raise InputError(f"{self.info.display_name} cannot train adapters; load a transformers model to use them.")

    def temporary_adapter(self, settings: LoraSettings) -> AbstractContextManager[AdapterTrainer]:
        """Add a fresh LoRA adapter for the length of a ``with`` block, then delete it.

        The block holds the model's lock, so no other request generates while the adapter is
        on; generation inside the block (same thread) uses the adapter.
        """
        raise InputError(f"{self.info.display_name} cannot train adapters; load a transformers model to use them.")

    def flow_adapter(self, lora: LoraSettings, flow: FlowSettings, likelihood_weight: float
                     ) -> AbstractContextManager[FlowTrainer]:
        """Add a fresh LoRA adapter for a ``with`` block and yield its GFlowNet trainer; see models/gflownet.py.

        ``likelihood_weight`` multiplies the base model's log-likelihood of a sequence, which the
        trainer adds to the log-reward it is given. The block holds the model's lock.
        """
        raise InputError(f"{self.info.display_name} cannot train adapters; load a transformers model to use them.")

    def stored_adapter(self, folder: Path) -> AbstractContextManager[None]:
        """Switch the adapter saved in ``folder`` on for a ``with`` block, holding the model's lock.

        Raises InputError when the adapter was trained on another base model.
        """
        raise InputError(f"{self.info.display_name} cannot use adapters; load a transformers model to use them.")
