"""The closed-form parameter counts (what validate and the step plans use, without torch) equal the
built models' ``sum(p.numel())``, for every architecture at every size the shipped params files name."""

from __future__ import annotations

import pytest
import torch

from pretrainlab.config.load import load_params
from pretrainlab.config.schema import ModelSize
from pretrainlab.models import build_model
from pretrainlab.models.architectures import ARCHITECTURES
from pretrainlab.models.param_count import count_parameters, meta_stacks, stack_params
from pretrainlab.tokenization.specials import SpecialTokens
from tests.checkout import ROOT

PARAMS_FILES = ("params.yaml", "presets/smoke.yaml", "presets/gpu-125m.yaml")
GQA = ModelSize(d_model=48, n_layers=3, n_heads=6, d_ff=80, n_kv_heads=2)  # grouped key/value heads


def shipped_sizes() -> list[tuple[str, ModelSize, int]]:
    sizes = []
    for file in PARAMS_FILES:
        study = load_params(ROOT / file)
        sizes += [(f"{file}:{name}", size, study.tokenizer.vocab_size) for name, size in study.models.items()]
    return sizes + [("gqa", GQA, 160)]


SIZES = shipped_sizes()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize(("where", "size", "vocab"), SIZES, ids=[s[0] for s in SIZES])
def test_formula_equals_the_model_on_the_meta_device(arch, where, size, vocab):
    spec = ARCHITECTURES[arch]
    assert spec.count_stacks is not None, f"{arch} has no closed-form count: validate would import torch"
    with torch.device("meta"):
        model = spec.model_class(spec.config(size, vocab, seq_len=8))
    total = sum(p.numel() for p in model.parameters())
    embedding = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    assert count_parameters(arch, size, vocab) == (total, total - embedding)
    assert stack_params(spec, size, vocab) == meta_stacks(spec, size, vocab)  # the FLOPs split too


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_formula_equals_a_real_tiny_model(arch):
    specials = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
    model = build_model(arch, GQA, specials, seq_len=8, seed=0)
    total, _ = count_parameters(arch, GQA, specials.vocab_size)
    assert total == sum(p.numel() for p in model.parameters())
