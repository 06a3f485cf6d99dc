"""The GFlowNet training loop: sample chains, reward them, replay good ones, take a balance step.

After Hu et al. 2023 ("Amortizing intractable inference in large language models",
GFNOrg/gfn-lm-tuning): the objectives are off-policy, so the loop may train on chains that
the sampler did not draw at temperature 1. Each step is one of

- an on-policy batch, sampled from the adapter at temperature 1;
- an exploration batch, sampled at a temperature drawn from [0.5, explore_temperature];
- a replay batch, drawn from a buffer that keeps each problem's highest-reward distinct chains.

The loop is independent of tasks: the caller gives the chats and a reward function, so the same
loop trains on reasoning-gym problems and on the enumerable toy problem of the tests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lrm_lab.errors import InputError
from lrm_lab.models.base import Completion, FlowSequence, FlowTrainer, Message, ModelBackend, SamplingParams

log = logging.getLogger(__name__)

EXPLORE_LOW_TEMPERATURE = 0.5


@dataclass(frozen=True)
class Reward:
    """A chain's reward: its log-reward(s) for the objective, and the verifier's score for the curves."""

    log_rewards: tuple[float, ...]  # one value, or one per prefix for sub-trajectory balance
    score: float  # the verifier's score of the whole chain, before tempering and the floor


# Arguments: the problem's index and the sampled completion.
RewardFn = Callable[[int, Completion], Reward]


@dataclass(frozen=True)
class LoopSettings:
    """How many steps, how big, and how the loop explores."""

    steps: int
    batch_size: int
    max_new_tokens: int
    explore_probability: float = 0.5
    explore_temperature: float = 1.5
    replay_probability: float = 0.25
    replay_size: int = 8  # distinct chains kept per problem
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise InputError("Training needs at least one step and a batch of at least one chain.")
        if self.explore_temperature < EXPLORE_LOW_TEMPERATURE:
            raise InputError(f"explore_temperature must be at least {EXPLORE_LOW_TEMPERATURE}, "
                             f"got {self.explore_temperature}.")


@dataclass(frozen=True)
class StepRecord:
    """One training step, as the curves and the progress bar show it."""

    step: int  # 1-based
    problem: int
    source: str  # "sampled", "explore" or "replay"
    temperature: float | None  # sampling temperature, None for a replay batch
    loss: float
    log_z: float
    mean_score: float  # mean verifier score of the batch
    mean_log_reward: float
    seconds: float


@dataclass
class ReplayBuffer:
    """The highest-reward distinct chains of each problem, with their rewards."""

    size: int
    chains: dict[int, dict[tuple[int, ...], Reward]] = field(default_factory=dict)

    def add(self, problem: int, token_ids: tuple[int, ...], reward: Reward) -> None:
        kept = self.chains.setdefault(problem, {})
        kept[token_ids] = reward
        if len(kept) > self.size:
            worst = min(kept, key=lambda ids: (kept[ids].score, kept[ids].log_rewards[-1]))
            del kept[worst]

    def sample(self, problem: int, count: int, rng: random.Random) -> list[tuple[tuple[int, ...], Reward]]:
        kept = list(self.chains.get(problem, {}).items())
        return [rng.choice(kept) for _ in range(count)] if kept else []

    def __contains__(self, problem: int) -> bool:
        return bool(self.chains.get(problem))


def train_flow(model: ModelBackend, trainer: FlowTrainer, chats: list[list[Message]], reward: RewardFn,
               settings: LoopSettings, cancel: threading.Event | None = None) -> Iterator[StepRecord]:
    """Train for ``settings.steps`` steps, cycling through the chats, and yield each step's record.

    Stops early, between or inside steps, when ``cancel`` is set.
    """
    cancel = cancel or threading.Event()
    rng = random.Random(f"gflownet/{settings.seed}")
    prompts = [trainer.prompt_ids(chat) for chat in chats]
    buffer = ReplayBuffer(settings.replay_size)

    for step in range(settings.steps):
        if cancel.is_set():
            return
        start = time.perf_counter()
        problem = step % len(chats)

        # 1. A batch of chains: replayed from the buffer, or sampled at temperature 1 or an exploring one.
        temperature: float | None = None
        if problem in buffer and rng.random() < settings.replay_probability:
            source, batch = "replay", buffer.sample(problem, settings.batch_size, rng)
        else:
            source, temperature = "sampled", 1.0
            if rng.random() < settings.explore_probability:
                source, temperature = "explore", rng.uniform(EXPLORE_LOW_TEMPERATURE, settings.explore_temperature)
            params = SamplingParams(n=settings.batch_size, temperature=temperature, top_p=1.0,
                                    max_new_tokens=settings.max_new_tokens, seed=rng.randrange(2**31))
            completions = model.generate(chats[problem], params, cancel=cancel)
            if cancel.is_set():
                return

            # 2. Reward every chain and keep the best in the replay buffer.
            batch = [(tuple(c.token_ids), reward(problem, c)) for c in completions]
            for token_ids, chain_reward in batch:
                buffer.add(problem, token_ids, chain_reward)

        # 3. One balance step on the batch.
        sequences = [FlowSequence(token_ids, chain_reward.log_rewards) for token_ids, chain_reward in batch]
        stats = trainer.step(prompts[problem], sequences, problem, cancel)
        if stats is None:
            return
        yield StepRecord(
            step=step + 1, problem=problem, source=source,
            temperature=None if temperature is None else round(temperature, 3),
            loss=stats.loss, log_z=stats.log_z,
            mean_score=sum(r.score for _, r in batch) / len(batch),
            mean_log_reward=stats.mean_log_reward,
            seconds=time.perf_counter() - start,
        )
