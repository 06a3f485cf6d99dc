"""GFlowNet adapters on a toy problem whose outcomes can be enumerated, and on the tiny random Llama.

The toy: a random Llama over 7 tokens generates at most 2 tokens after its prompt. Six tokens
may appear in a sequence (every id but the stop token), so there are 1 + 6 + 36 = 43 sequences,
and the reward is defined on each. A trained sampler must draw each with probability
R / sum(R), and the learned log Z must approach log sum(R).
"""

import itertools
import math
import threading

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from lrm_lab.errors import InputError
from lrm_lab.models.base import Completion, FlowSettings, LoraSettings, ModelInfo, SamplingParams
from lrm_lab.models.gflownet import LAB_FILE
from lrm_lab.models.transformers_backend import TransformersBackend
from lrm_lab.techniques.flow_training import LoopSettings, Reward, train_flow

TOKENS = ["<pad>", "<|im_start|>", "<|im_end|>", "<unk>", "a", "b", "c"]
STOP = 2
CONTENT_IDS = [0, 1, 3, 4, 5, 6]
MAX_TOKENS = 2
SEQUENCES = [s for n in range(MAX_TOKENS + 1) for s in itertools.product(CONTENT_IDS, repeat=n)]
PEAKS = {(4,): 8.0, (4, 5): 6.0, (6, 6): 4.0, (): 2.0}  # every other sequence gets the floor
FLOOR = 0.25
CHAT = [{"role": "user", "content": "go"}]
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TOY_LORA = LoraSettings(rank=8, alpha=16, target_modules=ALL_LINEAR, learning_rate=0.01, seed=0)


def toy_reward(content):
    return PEAKS.get(tuple(content), FLOOR)


def toy_backend() -> TransformersBackend:
    core = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(TOKENS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<|im_end|>",
                                        unk_token="<unk>", bos_token="<|im_start|>")
    tokenizer.chat_template = "{% for m in messages %}<|im_start|> {{ m['content'] }} <|im_end|> {% endfor %}<|im_start|>"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(TOKENS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        # Random weights 25 times wider than the default 0.02, so that the output layer can
        # reach the logits of a peaked distribution. At 0.02 every distribution stays near uniform.
        initializer_range=0.5,
        pad_token_id=0,
        eos_token_id=STOP,
        bos_token_id=1,
    )
    info = ModelInfo("toy", "toy Llama", None, "local", "cpu", "float32", 0, 0.0)
    return TransformersBackend(LlamaForCausalLM(config), tokenizer, info)


def reward_of(objective):
    def reward(problem: int, completion: Completion) -> Reward:
        ids = list(completion.token_ids)
        content = ids[:-1] if ids and ids[-1] == STOP else ids
        if objective == "subtb":  # sub-trajectory balance needs the reward of stopping after every prefix
            values = tuple(math.log(toy_reward(content[:t])) for t in range(len(content) + 1))
        else:
            values = (math.log(toy_reward(content)),)
        return Reward(values, toy_reward(content))
    return reward


def sampler_distribution(trainer):
    """Exact probability of each of the 43 sequences; one of length MAX_TOKENS stops because the limit forces it."""
    with_stop = [list(s) + ([STOP] if len(s) < MAX_TOKENS else []) for s in SEQUENCES]
    return [math.exp(x) for x in trainer.sequence_log_probs(trainer.prompt_ids(CHAT), with_stop)]


def train_toy(backend, objective, steps):
    flow = FlowSettings(objective=objective, problems=1, log_z_learning_rate=0.1, decay_steps=steps)
    settings = LoopSettings(steps=steps, batch_size=32, max_new_tokens=MAX_TOKENS, seed=0)
    with backend.flow_adapter(TOY_LORA, flow, likelihood_weight=0.0) as trainer:
        records = list(train_flow(backend, trainer, [CHAT], reward_of(objective), settings))
        return records, sampler_distribution(trainer)


def total_variation(p, q):
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q))


TARGET = [toy_reward(s) / sum(toy_reward(s) for s in SEQUENCES) for s in SEQUENCES]


def test_enumeration_covers_every_sequence_the_sampler_can_draw():
    backend = toy_backend()
    with backend.flow_adapter(TOY_LORA, FlowSettings(), likelihood_weight=0.0) as trainer:
        assert sum(sampler_distribution(trainer)) == pytest.approx(1.0, abs=1e-5)


def test_untrained_sampler_is_far_from_the_target():
    backend = toy_backend()
    with backend.flow_adapter(TOY_LORA, FlowSettings(), likelihood_weight=0.0) as trainer:
        assert total_variation(sampler_distribution(trainer), TARGET) > 0.3


def test_trajectory_balance_samples_in_proportion_to_reward_and_learns_log_z():
    backend = toy_backend()
    records, distribution = train_toy(backend, "tb", steps=1000)
    assert total_variation(distribution, TARGET) <= 0.1
    assert records[-1].log_z == pytest.approx(math.log(sum(toy_reward(s) for s in SEQUENCES)), abs=0.1)


@pytest.mark.parametrize("objective", ["tb_batch", "subtb"])
def test_other_objectives_sample_in_proportion_to_reward(objective):
    backend = toy_backend()
    records, distribution = train_toy(backend, objective, steps=600)
    assert total_variation(distribution, TARGET) <= 0.1
    assert records[-1].log_z == pytest.approx(math.log(sum(toy_reward(s) for s in SEQUENCES)), abs=0.2)


def test_training_leaves_the_base_weights_unchanged():
    backend = toy_backend()
    base = {name: tensor.clone() for name, tensor in backend.model.state_dict().items()}
    records, _ = train_toy(backend, "tb", steps=20)
    after = backend.model.state_dict()
    assert len(records) == 20
    assert after.keys() == base.keys()
    assert all(torch.equal(after[name], base[name]) for name in base)
    assert all(parameter.grad is None for parameter in backend.model.parameters())


def test_saved_adapter_gives_the_same_samples_for_the_same_seed(tmp_path):
    backend = toy_backend()
    sampling = SamplingParams(n=16, temperature=1.0, max_new_tokens=MAX_TOKENS, seed=7)
    flow = FlowSettings(objective="tb")
    settings = LoopSettings(steps=60, batch_size=16, max_new_tokens=MAX_TOKENS, seed=0)
    with backend.flow_adapter(TOY_LORA, flow, likelihood_weight=0.0) as trainer:
        list(train_flow(backend, trainer, [CHAT], reward_of("tb"), settings))
        trained = [c.token_ids for c in backend.generate(CHAT, sampling)]
        trainer.save(tmp_path / "toy", {"family": None})
    base = [c.token_ids for c in backend.generate(CHAT, sampling)]

    with backend.stored_adapter(tmp_path / "toy"):
        loaded = [c.token_ids for c in backend.generate(CHAT, sampling)]
    assert loaded == trained
    assert base != trained, "training did not change the samples, so the comparison proves nothing"
    assert [c.token_ids for c in backend.generate(CHAT, sampling)] == base, "the adapter stayed on"


def test_saved_adapter_rejected_on_other_model(tmp_path):
    backend = toy_backend()
    with backend.flow_adapter(TOY_LORA, FlowSettings(), likelihood_weight=0.0) as trainer:
        trainer.save(tmp_path / "toy", {})
    other = toy_backend()
    other.info = ModelInfo("other-model", "another Llama", "rev2", "local", "cpu", "float32", 0, 0.0)
    with pytest.raises(InputError, match="trained on 'toy Llama'"):
        with other.stored_adapter(tmp_path / "toy"):
            pass
    assert (tmp_path / "toy" / LAB_FILE).is_file()


def test_folder_without_adapter_rejected(tmp_path):
    with pytest.raises(InputError, match="holds no saved adapter"):
        with toy_backend().stored_adapter(tmp_path):
            pass


@pytest.mark.parametrize("block", ["train", "stored"])
def test_adapter_blocks_hold_the_model_lock(tmp_path, block):
    backend = toy_backend()
    with backend.flow_adapter(TOY_LORA, FlowSettings(), likelihood_weight=0.0) as trainer:
        trainer.save(tmp_path / "toy", {})
    acquired = []

    def try_lock():
        acquired.append(backend.lock.acquire(blocking=False))

    opened = backend.flow_adapter(TOY_LORA, FlowSettings(), 0.0) if block == "train" else backend.stored_adapter(
        tmp_path / "toy")
    with opened:
        other = threading.Thread(target=try_lock)
        other.start()
        other.join()
    assert acquired == [False]
    assert backend.lock.acquire(blocking=False), "the lock was not released after the block"
    backend.lock.release()


def test_a_cancelled_step_changes_nothing():
    backend = toy_backend()
    cancel = threading.Event()
    cancel.set()
    settings = LoopSettings(steps=5, batch_size=4, max_new_tokens=MAX_TOKENS, seed=0)
    with backend.flow_adapter(TOY_LORA, FlowSettings(), likelihood_weight=0.0) as trainer:
        before = [p.detach().clone() for p in trainer.adapter_parameters]
        records = list(train_flow(backend, trainer, [CHAT], reward_of("tb"), settings, cancel))
        assert records == []
        assert all(torch.equal(a, b.detach()) for a, b in zip(before, trainer.adapter_parameters))


def test_likelihood_weight_adds_the_base_log_likelihood_to_the_reward():
    """With weight 1 and a constant reward, balance means sampling like the base model: log Z = log 1 = 0."""
    backend = toy_backend()
    flow = FlowSettings(objective="tb_batch", decay_steps=0)
    constant = lambda problem, completion: Reward((0.0,), 1.0)  # noqa: E731
    settings = LoopSettings(steps=1, batch_size=64, max_new_tokens=MAX_TOKENS, seed=0, explore_probability=0.0)
    with backend.flow_adapter(TOY_LORA, flow, likelihood_weight=1.0) as trainer:
        records = list(train_flow(backend, trainer, [CHAT], constant, settings))
    # The untrained adapter is the base model, so log P_F(y) - log R(y) is 0 for every sequence.
    assert records[0].loss == pytest.approx(0.0, abs=1e-8)
    assert records[0].log_z == pytest.approx(0.0, abs=1e-5)


def test_balanced_batches_leave_the_adapter_unchanged():
    """A constant reward with weight 1 on the base likelihood is balanced by the base model: the loss is rounding only."""
    backend = toy_backend()
    flow = FlowSettings(objective="tb_batch")
    constant = lambda problem, completion: Reward((0.0,), 1.0)  # noqa: E731
    settings = LoopSettings(steps=5, batch_size=16, max_new_tokens=MAX_TOKENS, seed=0)
    with backend.flow_adapter(TOY_LORA, flow, likelihood_weight=1.0) as trainer:
        before = [p.detach().clone() for p in trainer.adapter_parameters]
        records = list(train_flow(backend, trainer, [CHAT], constant, settings))
        after = [p.detach() for p in trainer.adapter_parameters]
    assert len(records) == 5
    assert all(torch.equal(a, b) for a, b in zip(before, after))
