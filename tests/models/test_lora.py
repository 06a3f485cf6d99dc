"""Temporary LoRA adapters on the tiny random Llama: they train, leave the base model as it was, and hold the lock."""

import threading

import pytest
import torch

from lrm_lab.errors import InputError
from lrm_lab.models.base import LoraSettings, SamplingParams, TrainingExample
from lrm_lab.models.fake import FakeBackend

CHAT = [{"role": "user", "content": "what is 2 + 3"}]
EXAMPLE = TrainingExample(CHAT, "Answer : 5")
GREEDY = SamplingParams(max_new_tokens=5)
# A high learning rate, so that five steps on the tiny model change what it generates.
FAST = LoraSettings(rank=4, alpha=8, learning_rate=0.1, seed=0)


def snapshot(backend):
    return {name: tensor.clone() for name, tensor in backend.model.state_dict().items()}


def lora_modules(backend):
    return [name for name, _ in backend.model.named_modules() if "lora" in name]


def test_training_changes_the_adapter_and_not_the_base_weights(tiny):
    base = snapshot(tiny)

    with tiny.temporary_adapter(FAST) as trainer:
        adapter = {name: p.detach().clone() for name, p in tiny.model.named_parameters() if "lora_" in name}
        assert adapter, "no LoRA weights were added"
        losses = [trainer.step([EXAMPLE]) for _ in range(5)]
        trained = {name: p.detach() for name, p in tiny.model.named_parameters() if "lora_" in name}
        frozen_grads = [p.grad for name, p in tiny.model.named_parameters() if "lora_" not in name]

    assert all(not torch.equal(adapter[name], trained[name]) for name in adapter), "some LoRA weights did not move"
    assert losses[-1] < losses[0]
    assert all(grad is None for grad in frozen_grads), "a base weight received a gradient"
    after = snapshot(tiny)
    assert after.keys() == base.keys()
    assert all(torch.equal(after[name], base[name]) for name in base)


def test_adapter_changes_generation_inside_the_block_only(tiny):
    before = tiny.generate(CHAT, GREEDY)[0].token_ids
    with tiny.temporary_adapter(FAST) as trainer:
        for _ in range(5):
            trainer.step([EXAMPLE])
        adapted = tiny.generate(CHAT, GREEDY)[0].token_ids
    assert adapted != before, "training did not change the output, so the other checks here prove nothing"
    assert tiny.generate(CHAT, GREEDY)[0].token_ids == before
    assert lora_modules(tiny) == []
    assert not hasattr(tiny.model, "peft_config")


def test_adapter_is_removed_when_the_block_raises(tiny):
    base = snapshot(tiny)
    with pytest.raises(RuntimeError, match="boom"):
        with tiny.temporary_adapter(FAST) as trainer:
            trainer.step([EXAMPLE])
            raise RuntimeError("boom")
    assert lora_modules(tiny) == []
    assert all(torch.equal(snapshot(tiny)[name], base[name]) for name in base)
    assert tiny.lock.acquire(blocking=False), "the lock was not released"
    tiny.lock.release()


def test_block_holds_the_model_lock(tiny):
    acquired = []
    with tiny.temporary_adapter(FAST):
        other = threading.Thread(target=lambda: acquired.append(tiny.lock.acquire(blocking=False)))
        other.start()
        other.join()
    assert acquired == [False]


def test_unknown_target_module_is_named_and_nothing_is_added(tiny):
    with pytest.raises(InputError, match="no linear layers named attn_x.*q_proj"):
        with tiny.temporary_adapter(LoraSettings(target_modules=("attn_x",))):
            pass
    assert lora_modules(tiny) == []


def test_empty_batch_is_refused(tiny):
    with tiny.temporary_adapter(FAST) as trainer, pytest.raises(ValueError, match="at least one example"):
        trainer.step([])


def test_backend_without_training_says_so():
    with pytest.raises(InputError, match="cannot train adapters"):
        FakeBackend([]).temporary_adapter(FAST)


def test_cancelled_step_changes_nothing(tiny):
    cancel = threading.Event()
    cancel.set()
    with tiny.temporary_adapter(FAST) as trainer:
        adapter = {name: p.detach().clone() for name, p in tiny.model.named_parameters() if "lora_" in name}
        assert trainer.step([EXAMPLE, EXAMPLE], cancel) is None
        assert all(torch.equal(p, adapter[name]) for name, p in tiny.model.named_parameters() if "lora_" in name)
        assert trainer.steps == 0


def test_loss_is_the_mean_over_all_reply_tokens_of_the_batch(tiny):
    long_reply = TrainingExample(CHAT, "Answer : 5 + 5 = 1 0 the answer is 1 0")
    with tiny.temporary_adapter(FAST) as trainer:
        for _ in range(10):  # learn the short reply, so that the two losses differ
            trainer.step([EXAMPLE])
        trainer.optimizer.param_groups[0]["lr"] = 1e-12  # measure without moving the adapter
        single = [trainer.step([example]) for example in (EXAMPLE, long_reply)]
        both = trainer.step([EXAMPLE, long_reply])
    assert single[1] - single[0] > 0.1  # enough for the weighting below to differ from a plain mean by 1%
    # Replies of 4 and 14 tokens with the end token: the batch loss weighs each by its length.
    assert both == pytest.approx((4 * single[0] + 14 * single[1]) / 18, rel=1e-4)
