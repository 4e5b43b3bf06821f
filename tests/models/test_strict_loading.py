"""A saved model loads exactly or not at all: no tensor silently initialised afresh, no NaN weights, no
model fed the ids of a tokenizer it was not trained with. transformers itself only warns in the first
case and says nothing in the other two; each would give wrong numbers with exit 0."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from pretrainlab.config.schema import ModelSize
from pretrainlab.errors import UserInputError
from pretrainlab.models import build_model
from pretrainlab.models.load import MODEL_CARD, load_pretrained
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64, n_kv_heads=2)
ARCHS = ("causal_decoder", "noncausal_decoder", "encoder_decoder", "encoder")


def _saved(tmp_path, arch):
    model_dir = tmp_path / arch
    build_model(arch, SIZE, SPECIALS, seq_len=32, seed=1).save_pretrained(model_dir)
    (model_dir / MODEL_CARD).write_text(json.dumps({"arch": arch, "tokenizer_sha256": "a" * 64}))
    return model_dir


def _rewrite_weights(model_dir, edit):
    file = model_dir / "model.safetensors"
    tensors = edit(load_file(str(file)))
    save_file(tensors, str(file), metadata={"format": "pt"})


def _renamed(tensors):
    name = sorted(tensors)[-1]
    tensors[name.replace(".weight", ".wieght")] = tensors.pop(name)
    return tensors


def _dropped(tensors):
    tensors.pop(sorted(tensors)[-1])
    return tensors


def _extra(tensors):
    tensors["model.unexpected_tensor"] = torch.zeros(3)
    return tensors


def _nan(tensors):
    name = sorted(tensors)[-1]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    return tensors


@pytest.mark.parametrize("arch", ARCHS)
def test_an_intact_model_loads_with_the_same_weights(tmp_path, arch):
    model_dir = _saved(tmp_path, arch)
    saved = load_file(str(model_dir / "model.safetensors"))
    loaded = load_pretrained(model_dir, arch, SPECIALS.vocab_size, tokenizer_sha256="a" * 64).state_dict()
    for name, tensor in saved.items():
        assert torch.equal(loaded[name], tensor), name


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(
    ("damage", "says"),
    [(_renamed, "missing"), (_dropped, "missing"), (_extra, "unexpected"), (_nan, "non-finite")],
)
def test_a_checkpoint_that_does_not_fill_the_model_exactly_is_refused(tmp_path, arch, damage, says):
    model_dir = _saved(tmp_path, arch)
    _rewrite_weights(model_dir, damage)
    with pytest.raises(UserInputError, match=says) as error:
        load_pretrained(model_dir, arch, SPECIALS.vocab_size)
    assert str(model_dir) in str(error.value)


def test_a_model_trained_with_another_tokenizer_is_refused(tmp_path):
    model_dir = _saved(tmp_path, "causal_decoder")
    with pytest.raises(UserInputError, match="trained with tokenizer aaaaaaaaaaaa.*bbbbbbbbbbbb") as error:
        load_pretrained(model_dir, "causal_decoder", SPECIALS.vocab_size, tokenizer_sha256="b" * 64)
    assert str(model_dir) in str(error.value)
