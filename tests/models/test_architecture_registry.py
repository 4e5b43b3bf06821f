"""A fifth architecture is one spec plus one registry line: build, collate, forward, FLOPs and loading
all reach it with no other edit. The toy is a prefix-LM decoder on a stock Llama stack."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pretrainlab.config.schema import ModelSize
from pretrainlab.errors import UserInputError
from pretrainlab.models import build_model, collate, count_parameters, flops_per_token, forward_logits, loss
from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.architectures import ARCHITECTURES, architecture, register
from pretrainlab.models.load import load_pretrained
from pretrainlab.objectives import Example
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64)
A, B, C, D = 20, 21, 22, 23
EXAMPLE = [Example(np.array([A, B]), np.array([C, D]))]


def llama_config(
    size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None
) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.d_model,
        intermediate_size=size.d_ff,
        num_hidden_layers=size.n_layers,
        num_attention_heads=size.n_heads,
        num_key_value_heads=size.n_kv_heads or size.n_heads,
        max_position_embeddings=seq_len,
        tie_word_embeddings=True,
        pad_token_id=specials.pad if specials else 0,
        bos_token_id=specials.bos if specials else 1,
        eos_token_id=specials.eos if specials else 2,
    )


TOY = ArchitectureSpec(
    name="toy_prefix_llama",
    short="TL",
    build_config=llama_config,
    model_class_name="LlamaForCausalLM",
    auto_class_name="AutoModelForCausalLM",
    model_type="llama",
    is_decoder=True,
    bidirectional_prefix=True,
)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY.name
    del ARCHITECTURES[TOY.name]


def test_collate_and_forward_reach_the_toy(toy):
    batch = collate(EXAMPLE, toy, SPECIALS, 3, 2)
    assert batch.prefix_lengths.tolist() == [2]  # its bidirectional prefix
    assert batch.labels.tolist() == [[-100, C, D, -100]]
    model = build_model(toy, SIZE, SPECIALS, seq_len=8, seed=0)
    assert isinstance(model, LlamaForCausalLM)
    logits = forward_logits(model, toy, batch)
    assert logits.shape == (1, 4, SPECIALS.vocab_size) and torch.isfinite(loss(logits, batch.labels))
    # the prefix mask reached the model: the first position sees the second prefix token
    other = collate([Example(np.array([A, C]), np.array([C, D]))], toy, SPECIALS, 3, 2)
    assert not torch.allclose(logits[0, 0], forward_logits(model, toy, other)[0, 0])


def test_flops_and_parameter_counts_reach_the_toy(toy):
    _, non_embedding = count_parameters(toy, SIZE, SPECIALS.vocab_size)
    expected = 6 * non_embedding + 12 * 2 * 32 * 10 + 6 * 32 * SPECIALS.vocab_size
    assert flops_per_token(toy, SIZE, SPECIALS.vocab_size, 10) == expected


def test_load_checks_the_toy_model_type(toy, tmp_path):
    build_model(toy, SIZE, SPECIALS, seq_len=8, seed=0).save_pretrained(tmp_path / "toy")
    assert isinstance(load_pretrained(tmp_path / "toy", toy, SPECIALS.vocab_size), LlamaForCausalLM)
    build_model("causal_decoder", SIZE, SPECIALS, seq_len=8, seed=0).save_pretrained(tmp_path / "cd")
    with pytest.raises(UserInputError, match="'gemma2' checkpoint, but toy_prefix_llama needs 'llama'"):
        load_pretrained(tmp_path / "cd", toy, SPECIALS.vocab_size)


def test_an_unknown_name_lists_the_registered_ones(toy):
    with pytest.raises(KeyError, match="valid names: causal_decoder, .*toy_prefix_llama"):
        architecture("rnn")
    with pytest.raises(ValueError, match="already registered"):
        register(TOY)


def test_the_registry_imports_without_torch():
    code = (
        "import sys, pretrainlab.models.architectures as a; a.architecture('encoder_decoder');"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_objectives_list_the_toy_by_what_it_is(toy):
    assert toy in get_objective("prefix_lm").valid_architectures  # it predicts targets from a prefix
    assert toy not in get_objective("full_lm").valid_architectures  # full_lm needs causal attention
    assert toy not in get_objective("mlm").valid_architectures
