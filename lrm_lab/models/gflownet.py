"""GFlowNet fine-tuning of a language model: a LoRA adapter trained to sample sequences in proportion to a reward.

A generated sequence is a trajectory: each token is an action from the prefix before it, and
stopping is the final action. A sampler P_F is a GFlowNet when it draws each complete sequence y
with probability R(y) / Z. The objectives here train the adapter towards that:

- trajectory balance (Malkin et al. 2022): (log Z + log P_F(y) - log R(y))^2, with a learned
  log Z per training problem;
- its batch-estimated form, VarGrad (Richter et al. 2020; Zhang et al. 2023): the variance over a
  batch of sequences for one problem of log P_F(y) - log R(y), whose mean estimates -log Z;
- sub-trajectory balance in the form of Hu et al. 2023 ("Amortizing intractable inference in
  large language models"): every prefix may stop, so the flow through a prefix is
  log F(s) = log R(s, stop) - log P_F(stop | s), and every pair of prefixes must balance.

A sequence cut at the length limit is forced to stop there: its stop has probability 1, the
same rule the sampler follows when it generates with that limit. Techniques reach this module
through the model seam (`ModelBackend.flow_adapter`, `ModelBackend.stored_adapter`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft import LoraConfig, PeftModel

from lrm_lab.errors import InputError
from lrm_lab.models.base import FlowSequence, FlowSettings, FlowStepStats, LoraSettings, Message
from lrm_lab.models.lora import check_targets, injected_adapter

if TYPE_CHECKING:
    from lrm_lab.models.transformers_backend import TransformersBackend

log = logging.getLogger(__name__)

LAB_FILE = "lab_adapter.json"  # what the lab wrote next to peft's files: base model, settings, log Z
MAX_FLOW_TOKENS = 2048  # prompt and sequence together, in one training forward pass
NOISE_LOSS = 1e-6  # a loss at or below this is float rounding, so the step is skipped


class FlowTrainer:
    """Trains the LoRA adapter and the log Z values of a peft-wrapped model with a GFlowNet objective."""

    def __init__(self, backend: TransformersBackend, peft_model: PeftModel, lora: LoraSettings,
                 flow: FlowSettings, likelihood_weight: float):
        self.backend = backend
        self.peft_model = peft_model
        self.lora = lora
        self.flow = flow
        self.likelihood_weight = likelihood_weight
        self.log_z = torch.nn.Parameter(torch.zeros(max(flow.problems, 1), device=backend.device))
        self.adapter_parameters = [p for p in peft_model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            [{"params": self.adapter_parameters, "lr": lora.learning_rate},
             {"params": [self.log_z], "lr": flow.log_z_learning_rate}],
            weight_decay=0.0,
        )
        self.base_learning_rates = [group["lr"] for group in self.optimizer.param_groups]
        self.stop_ids = sorted(backend.stop_ids)
        self.steps = 0

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        return self.backend.tokenizer(self.backend.render_prompt(messages), add_special_tokens=False).input_ids

    def decode(self, token_ids: list[int]) -> str:
        return self.backend.tokenizer.decode(token_ids, skip_special_tokens=True)

    def step(self, prompt_ids: list[int], sequences: Sequence[FlowSequence], problem: int = 0,
             cancel: threading.Event | None = None) -> FlowStepStats | None:
        """Take one optimiser step on sequences sampled for one prompt; None when ``cancel`` is already set."""
        if not sequences:
            raise ValueError("A training step needs at least one sequence.")
        if cancel is not None and cancel.is_set():
            return None
        batch = _Batch.build(prompt_ids, sequences, self.stop_ids, self.backend.device)

        # 1. The base model's log-likelihood of every sequence and prefix, with the adapter off.
        log_reward = batch.score_log_rewards  # (B, L+1): log R of stopping after each prefix
        if self.likelihood_weight:
            with torch.no_grad(), self.peft_model.disable_adapter():
                base_token, base_stop = self._log_probs(batch)
            log_reward = log_reward + self.likelihood_weight * batch.prefix_log_likelihood(base_token, base_stop)

        # 2. The sampler's log-probabilities, with gradients through the adapter.
        token_log_pf, stop_log_pf = self._log_probs(batch)  # (B, L), (B, L+1)
        log_pf = batch.sequence_log_prob(token_log_pf, stop_log_pf)  # (B,)
        terminal_log_reward = batch.at_end(log_reward)  # (B,)

        # 3. The objective.
        if self.flow.objective == "tb":
            log_z = self.log_z[problem]
            loss = (log_z + log_pf - terminal_log_reward).pow(2).mean()
            log_z_value = float(log_z.detach())
        elif self.flow.objective == "tb_batch":
            delta = log_pf - terminal_log_reward  # (B,): -log Z for every sequence once balanced
            loss = (delta - delta.mean()).pow(2).mean()
            log_z_value = float(-delta.mean().detach())
        else:
            loss, log_z_value = batch.subtrajectory_balance(token_log_pf, stop_log_pf, log_reward,
                                                            self.flow.subtb_lambda)

        # 4. One optimiser step; the adapter's gradient is clipped, log Z's is not. A batch that is
        # already balanced (equal rewards and an adapter still equal to the base model) has a loss of
        # float rounding only, and AdamW would scale that noise up to a full step, so it is skipped.
        self._set_learning_rates()
        self.optimizer.zero_grad()
        if float(loss.detach()) > NOISE_LOSS:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.adapter_parameters, max_norm=1.0)
            self.optimizer.step()
        self.steps += 1
        return FlowStepStats(loss=float(loss.detach()), log_z=log_z_value,
                             mean_log_reward=float(terminal_log_reward.mean()), mean_log_pf=float(log_pf.detach().mean()))

    def _set_learning_rates(self) -> None:
        """Fall linearly from the set learning rates to a tenth of them over ``decay_steps`` steps."""
        decay = self.flow.decay_steps
        scale = max(0.1, 1 - 0.9 * self.steps / decay) if decay else 1.0
        for group, rate in zip(self.optimizer.param_groups, self.base_learning_rates):
            group["lr"] = rate * scale

    @torch.no_grad()
    def sequence_log_probs(self, prompt_ids: list[int], token_ids: Sequence[Sequence[int]]) -> list[float]:
        """Return log P_F(y) of each sequence under the current sampler (stop included, or forced at the limit)."""
        sequences = [FlowSequence(tuple(ids), (0.0,)) for ids in token_ids]
        batch = _Batch.build(prompt_ids, sequences, self.stop_ids, self.backend.device)
        token_log_pf, stop_log_pf = self._log_probs(batch)
        return batch.sequence_log_prob(token_log_pf, stop_log_pf).tolist()

    def _log_probs(self, batch: _Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Return log P(next token) for each content token, and log P(stop) at each prefix."""
        logits = self.peft_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                 logits_to_keep=batch.max_len + 1).logits  # (B, L+1, V): states s_0..s_L
        log_probs = torch.log_softmax(logits.float(), dim=-1)  # (B, L+1, V)
        token = log_probs[:, :-1].gather(-1, batch.content[:, :, None])[:, :, 0]  # (B, L)
        stop = torch.logsumexp(log_probs[:, :, self.stop_ids], dim=-1)  # (B, L+1): any stop token ends it
        return token * batch.token_mask, stop

    def save(self, folder: Path, extra: dict) -> None:
        """Write the adapter (peft's files) and the lab's file with the settings, log Z and ``extra``."""
        folder.mkdir(parents=True, exist_ok=True)
        # Only the LoRA layers are saved; without this flag peft asks the hub whether the embeddings changed.
        self.peft_model.save_pretrained(str(folder), save_embedding_layers=False)
        info = {
            "lora": asdict(self.lora) | {"target_modules": list(self.lora.target_modules)},
            "flow": asdict(self.flow),
            "likelihood_weight": self.likelihood_weight,
            "log_z": [round(float(value), 6) for value in self.log_z.detach().cpu()],
            "base_model": {"model_id": self.backend.info.model_id, "revision": self.backend.info.revision,
                           "display_name": self.backend.info.display_name},
        } | extra
        (folder / LAB_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")


@dataclass
class _Batch:
    """Sequences for one prompt, right-padded into tensors; L is the longest content length."""

    input_ids: torch.Tensor  # (B, P+L): the prompt, then each sequence's content tokens
    attention_mask: torch.Tensor  # (B, P+L)
    content: torch.Tensor  # (B, L): tokens after the prompt, stop token left out
    token_mask: torch.Tensor  # (B, L): 1 where a content token is real
    lengths: torch.Tensor  # (B,): content length n of each sequence
    stopped: torch.Tensor  # (B,): 1 when the model chose to stop, 0 when the limit forced it
    score_log_rewards: torch.Tensor  # (B, L+1): log R per prefix (terminal value only at n for TB)
    max_len: int

    @classmethod
    def build(cls, prompt_ids: list[int], sequences: Sequence[FlowSequence], stop_ids: list[int],
              device: torch.device) -> _Batch:
        contents, stopped = [], []
        for sequence in sequences:
            ids = list(sequence.token_ids)
            ends = bool(ids) and ids[-1] in stop_ids
            contents.append(ids[:-1] if ends else ids)
            stopped.append(ends)
        max_len = max(len(ids) for ids in contents)
        if len(prompt_ids) + max_len > MAX_FLOW_TOKENS:
            raise InputError(f"A prompt and sequence of {len(prompt_ids) + max_len} tokens is over the "
                             f"{MAX_FLOW_TOKENS} a training step takes; lower max_new_tokens.")
        pad = stop_ids[0]  # any id: padded positions are masked out of attention and of every sum
        content = torch.tensor([ids + [pad] * (max_len - len(ids)) for ids in contents], dtype=torch.long)
        token_mask = torch.tensor([[1.0] * len(ids) + [0.0] * (max_len - len(ids)) for ids in contents])
        prompt = torch.tensor(prompt_ids, dtype=torch.long).expand(len(contents), -1)  # (B, P)
        attention = torch.cat([torch.ones_like(prompt), token_mask.long()], dim=1)  # (B, P+L)
        rewards = torch.zeros(len(contents), max_len + 1)
        for row, (sequence, ids) in enumerate(zip(sequences, contents)):
            values = sequence.log_rewards
            if len(values) == 1:
                rewards[row, len(ids)] = values[0]
            elif len(values) == len(ids) + 1:
                rewards[row, : len(ids) + 1] = torch.tensor(values)
            else:
                raise ValueError(f"{len(values)} log-rewards for a sequence of {len(ids)} tokens; "
                                 f"give 1 or {len(ids) + 1}.")
        return cls(
            input_ids=torch.cat([prompt, content], dim=1).to(device),
            attention_mask=attention.to(device),
            content=content.to(device),
            token_mask=token_mask.to(device),
            lengths=torch.tensor([len(ids) for ids in contents], device=device),
            stopped=torch.tensor(stopped, dtype=torch.float, device=device),
            score_log_rewards=rewards.to(device),
            max_len=max_len,
        )

    def at_end(self, per_prefix: torch.Tensor) -> torch.Tensor:
        """Return each row's value at its own length n: (B, L+1) -> (B,)."""
        return per_prefix.gather(1, self.lengths[:, None])[:, 0]

    def sequence_log_prob(self, token_log_p: torch.Tensor, stop_log_p: torch.Tensor) -> torch.Tensor:
        """log P(y) = sum of the content tokens' log-probabilities + log P(stop) unless the limit forced it."""
        return token_log_p.sum(dim=1) + self.stopped * self.at_end(stop_log_p)  # (B,)

    def prefix_log_likelihood(self, token_log_p: torch.Tensor, stop_log_p: torch.Tensor) -> torch.Tensor:
        """log P(prefix, then stop) for every prefix length, with the stop forced at each row's own end if cut."""
        before = torch.cat([torch.zeros_like(token_log_p[:, :1]), token_log_p.cumsum(dim=1)], dim=1)  # (B, L+1)
        forced = self._forced_end_mask()  # (B, L+1): 1 at n of a cut sequence
        return before + stop_log_p * (1 - forced)

    def _forced_end_mask(self) -> torch.Tensor:
        positions = torch.arange(self.max_len + 1, device=self.lengths.device)[None, :]  # (1, L+1)
        return ((positions == self.lengths[:, None]) & (self.stopped[:, None] == 0)).float()

    def subtrajectory_balance(self, token_log_pf: torch.Tensor, stop_log_pf: torch.Tensor, log_reward: torch.Tensor,
                              lam: float) -> tuple[torch.Tensor, float]:
        """Sub-trajectory balance over every pair of prefixes i < j of each sequence (Hu et al. 2023, eq. 5).

        With log F(s_i) = log R(s_i, stop) - log P_F(stop | s_i), and c_i the sum of the first i
        tokens' log P_F, every pair must satisfy log F(s_i) + c_j - c_i = log F(s_j). Writing
        u_i = log F(s_i) - c_i, the residual of (i, j) is u_i - u_j.
        """
        forced = self._forced_end_mask()
        log_flow = log_reward - stop_log_pf * (1 - forced)  # (B, L+1)
        cumulative = torch.cat([torch.zeros_like(token_log_pf[:, :1]), token_log_pf.cumsum(dim=1)], dim=1)  # (B, L+1)
        u = log_flow - cumulative  # (B, L+1)
        residual = u[:, :, None] - u[:, None, :]  # (B, L+1, L+1): entry (i, j) is u_i - u_j

        positions = torch.arange(self.max_len + 1, device=u.device)
        gap = positions[None, :] - positions[:, None]  # (L+1, L+1): j - i
        valid = (gap > 0)[None] & (positions[None, None, :] <= self.lengths[:, None, None])  # (B, L+1, L+1)
        weight = torch.where(valid, torch.tensor(lam, device=u.device).pow(gap.clamp(min=0).float()), 0.0)
        per_sequence = (weight * residual.pow(2)).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp(min=1e-9)  # (B,)
        return per_sequence.mean(), float(log_flow[:, 0].detach().mean())


@contextmanager
def flow_adapter(backend: TransformersBackend, lora: LoraSettings, flow: FlowSettings,
                 likelihood_weight: float) -> Iterator[FlowTrainer]:
    """Hold the model's lock, add a fresh LoRA adapter, yield its GFlowNet trainer, then remove the adapter.

    Save the adapter with ``trainer.save`` inside the block to keep it.
    """
    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, target_modules=list(lora.target_modules),
                        lora_dropout=0.0, bias="none")
    with injected_adapter(backend, config, seed=lora.seed) as peft_model:
        yield FlowTrainer(backend, peft_model, lora, flow, likelihood_weight)


def read_adapter_info(folder: Path) -> dict:
    """Return the lab's file of a saved adapter, or raise InputError when the folder holds no adapter."""
    path = Path(folder) / LAB_FILE
    if not path.is_file() or not (Path(folder) / "adapter_config.json").is_file():
        raise InputError(f"{folder} holds no saved adapter (no {LAB_FILE} and adapter_config.json); "
                         "train one first, or pick another.")
    return json.loads(path.read_text(encoding="utf-8"))


@contextmanager
def stored_lora(backend: TransformersBackend, folder: Path) -> Iterator[None]:
    """Hold the model's lock and switch a saved adapter on for the block; raise InputError for another base model."""
    info = read_adapter_info(folder)
    base = info.get("base_model", {})
    if (base.get("model_id"), base.get("revision")) != (backend.info.model_id, backend.info.revision):
        raise InputError(
            f"The adapter in {folder} was trained on {base.get('display_name') or base.get('model_id')!r} "
            f"(revision {base.get('revision')}), not on the loaded {backend.info.display_name!r}; "
            "load that model or train an adapter for this one."
        )
    check_targets(backend.model, tuple(info["lora"]["target_modules"]))
    with injected_adapter(backend, folder=folder):
        yield
