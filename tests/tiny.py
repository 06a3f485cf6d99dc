"""A tiny random Llama and a word-level tokenizer, built in memory for fast tests (no download)."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from lrm_lab.models.base import ModelInfo
from lrm_lab.models.transformers_backend import TransformersBackend

SPECIAL = ["<pad>", "<|im_start|>", "<|im_end|>", "<unk>"]
WORDS = [str(digit) for digit in range(10)] + "Answer : = + - * / the is what solve step user assistant".split()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer of about 30 tokens, built in memory (no download)."""
    vocab = {token: index for index, token in enumerate(SPECIAL + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<|im_end|>", unk_token="<unk>", bos_token="<|im_start|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised Llama with one layer of width 16 (fast enough for every test)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,  # shrunk from 576 in SmolLM2-135M
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=2,
        bos_token_id=1,
    )
    return LlamaForCausalLM(config)


def tiny_backend(seed: int = 0) -> TransformersBackend:
    tokenizer = tiny_tokenizer()
    model = tiny_model(len(tokenizer), seed)
    info = ModelInfo("tiny-random", "tiny random Llama", None, "local", "cpu", "float32",
                     sum(p.numel() for p in model.parameters()), 0.0)
    return TransformersBackend(model, tokenizer, info)
