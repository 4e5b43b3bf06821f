import numpy as np
import pytest
import torch

from pretrainlab.adaptation.decoder_to_encoder_decoder import encoder_decoder_from_decoder, is_cross_attention
from pretrainlab.adaptation.freeze import trainable_only, trainable_parameters
from pretrainlab.config.schema import ModelSize
from pretrainlab.models.build import build_model
from pretrainlab.models.layout import collate, forward_logits, loss
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=128, num_sentinels=4)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64)
K = 3


@pytest.fixture
def model():
    decoder = build_model("causal_decoder", SIZE, SPECIALS, seq_len=32, seed=0)
    return encoder_decoder_from_decoder(decoder, cross_attention="random", seed=1)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    examples = [Example(rng.integers(20, 128, 8), rng.integers(20, 128, 4)) for _ in range(4)]
    return collate(examples, "encoder_decoder", SPECIALS, input_len=8, target_len=4)


def _snapshot(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _step(model, optimizer, batch, set_to_none=True):
    optimizer.zero_grad(set_to_none=set_to_none)
    loss(forward_logits(model, "encoder_decoder", batch), batch.labels).backward()
    optimizer.step()


def test_warmup_trains_only_cross_attention_and_the_rest_stays_bit_identical(model, batch):
    before = _snapshot(model)
    with trainable_only(model, is_cross_attention) as names:
        assert names == [n for n in before if is_cross_attention(n)]
        optimizer = torch.optim.AdamW(trainable_parameters(model), lr=1e-2, weight_decay=0.1)
        for _ in range(K):
            _step(model, optimizer, batch)
    after = _snapshot(model)
    for name in before:
        if is_cross_attention(name):
            assert not torch.equal(before[name], after[name]), f"{name} did not train"
        else:
            assert torch.equal(before[name], after[name]), f"{name} moved during the warm-up"
    assert all(p.requires_grad for p in model.parameters())  # flags restored


def test_why_the_warmup_optimizer_must_hold_only_trainable_parameters(model, batch):
    """Frozen tensors given to AdamW with zero (not None) gradients still decay: the pitfall freeze avoids."""
    before = _snapshot(model)
    with trainable_only(model, is_cross_attention):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        _step(model, optimizer, batch, set_to_none=False)
    moved = [
        n for n, p in model.named_parameters() if not is_cross_attention(n) and not torch.equal(p, before[n])
    ]
    assert moved  # weight decay touched frozen parameters


def test_nothing_to_train_is_an_error(model):
    with (
        pytest.raises(ValueError, match="nothing would be trained"),
        trainable_only(model, lambda name: False),
    ):
        pass
    assert all(p.requires_grad for p in model.parameters())
