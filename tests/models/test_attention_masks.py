"""Each architecture sees exactly what it should: checked by perturbing one token and watching the logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pretrainlab.config.schema import ModelSize
from pretrainlab.models import build_model, collate, forward_logits
from pretrainlab.objectives import Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64, n_kv_heads=2)
BACKENDS = ["eager", "sdpa"]
T, PREFIX = 10, 4


def model(arch: str, backend: str):
    return build_model(arch, SIZE, SPECIALS, seq_len=32, seed=0, attn_implementation=backend).eval()


def seq(n: int, offset: int = 0) -> np.ndarray:
    return np.arange(20 + offset, 20 + offset + n)


def changed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per position (last-but-one axis): did any logit move?"""
    return ((a - b).abs() > 1e-6).any(-1)


def perturbed_logits(m, arch, examples, row, position, decoder=False):
    batch = collate(examples, arch, SPECIALS, T, T if arch == "encoder_decoder" else 0)
    with torch.no_grad():
        before = forward_logits(m, arch, batch)
        ids = batch.decoder_input_ids if decoder else batch.input_ids
        ids[row, position] = (ids[row, position] + 1 - 20) % 100 + 20
        after = forward_logits(m, arch, batch)
    return changed(before, after)[row]


@pytest.mark.parametrize("backend", BACKENDS)
def test_causal_decoder_never_sees_the_future(backend):
    m = model("causal_decoder", backend)
    examples = [Example(seq(0), seq(T)), Example(seq(0), seq(6))]  # second row padded
    for t in range(1, T):
        moved = perturbed_logits(m, "causal_decoder", examples, 0, t)  # logits[j] read positions <= j
        assert not moved[:t].any() and moved[t:].all()
    for pad in range(6, T):  # a pad moves no real position
        assert not perturbed_logits(m, "causal_decoder", examples, 1, pad)[:6].any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_noncausal_decoder_prefix_bidirectional_targets_causal(backend):
    m = model("noncausal_decoder", backend)
    examples = [Example(seq(PREFIX), seq(T - PREFIX, 50)), Example(seq(3), seq(3, 50))]
    moved = perturbed_logits(m, "noncausal_decoder", examples, 0, PREFIX - 1)
    assert moved[:PREFIX].all()  # the last prefix token reaches the first prefix position
    for t in range(PREFIX, T):
        moved = perturbed_logits(m, "noncausal_decoder", examples, 0, t)
        assert not moved[:t].any(), f"target token {t} leaked into earlier positions"
    for pad in range(6, T):
        assert not perturbed_logits(m, "noncausal_decoder", examples, 1, pad)[:6].any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_encoder_decoder_decoder_causal_encoder_bidirectional(backend):
    m = model("encoder_decoder", backend)
    examples = [Example(seq(T), seq(T, 50)), Example(seq(6), seq(5, 50))]
    for t in range(T):
        moved = perturbed_logits(m, "encoder_decoder", examples, 0, t, decoder=True)
        assert not moved[:t].any() and moved[t:].all()
    for t in range(T):  # any encoder token reaches every decoder position
        assert perturbed_logits(m, "encoder_decoder", examples, 0, t).all()
    batch = collate(examples, "encoder_decoder", SPECIALS, T, T)
    encoder = m.get_encoder()
    with torch.no_grad():
        base = encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        for j in range(T):
            ids = batch.input_ids.clone()
            ids[:, j] += 1
            hidden = encoder(input_ids=ids, attention_mask=batch.attention_mask).last_hidden_state
            assert changed(base[0], hidden[0]).all(), "every encoder output depends on every encoder input"
            if j >= 6:  # a pad of row 1 changes none of its real outputs
                assert not changed(base[1, :6], hidden[1, :6]).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_encoder_is_bidirectional(backend):
    m = model("encoder", backend)
    labels = np.full(T, -100)
    labels[2] = 22
    examples = [Example(seq(T), seq(0), labels), Example(seq(6), seq(0), labels[:6])]
    for t in range(T):
        assert perturbed_logits(m, "encoder", examples, 0, t).all()
    for pad in range(6, T):
        assert not perturbed_logits(m, "encoder", examples, 1, pad)[:6].any()


def test_backends_agree_and_seed_fixes_the_weights():
    examples = [Example(seq(PREFIX), seq(T - PREFIX, 50)), Example(seq(3), seq(3, 50))]
    for arch in ("causal_decoder", "noncausal_decoder", "encoder_decoder"):
        batch = collate(examples, arch, SPECIALS, T, T if arch == "encoder_decoder" else 0)
        with torch.no_grad():
            eager, sdpa = (forward_logits(model(arch, b), arch, batch) for b in BACKENDS)
        real = batch.labels != -100
        torch.testing.assert_close(eager[real], sdpa[real], atol=1e-5, rtol=1e-5)
    a = build_model("causal_decoder", SIZE, SPECIALS, seq_len=32, seed=3)
    b = build_model("causal_decoder", SIZE, SPECIALS, seq_len=32, seed=3)
    c = build_model("causal_decoder", SIZE, SPECIALS, seq_len=32, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters(), strict=True))
