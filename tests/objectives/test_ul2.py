from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import Denoiser, UL2Options
from pretrainlab.objectives.registry import get_objective
from pretrainlab.objectives.span_corruption import example_lengths
from pretrainlab.objectives.ul2 import min_prefix, raw_length, ul2
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests()
SEQ_LEN = 128


def identify(example, raw: int, denoisers: list[Denoiser]) -> int:
    """Which denoiser made an example: its mode token, then its (unique) target length."""
    mode = {v: k for k, v in SPECIALS.modes.items()}[int(example.inputs[0])]
    matches = [
        i
        for i, d in enumerate(denoisers)
        if d.mode == mode and (d.prefix_lm or example_lengths(raw, d.r, d.mu)[1] == len(example.targets))
    ]
    assert len(matches) == 1
    return matches[0]


def test_each_denoiser_at_its_rate_with_its_mode_token(reassemble):
    options = UL2Options()
    raw = raw_length(SEQ_LEN, options)
    rng = np.random.default_rng(0)
    tokens = rng.integers(200, 512, size=(12_000, raw))
    examples = ul2(tokens, rng, options, SPECIALS)
    which = np.array([identify(e, raw, options.denoisers) for e in examples])
    rates = np.bincount(which, minlength=len(options.denoisers)) / len(examples)
    assert np.abs(rates - 1 / 7).max() <= 0.02
    s = options.denoisers.index(next(d for d in options.denoisers if d.prefix_lm))
    target_fraction = np.mean([len(e.targets) / raw for e, w in zip(examples, which, strict=True) if w == s])
    assert abs(target_fraction - 0.25) < 0.02  # UL2's S denoiser: targets ≈ r·L
    for row, e, w in zip(tokens[:2000], examples[:2000], which[:2000], strict=True):
        assert e.inputs[0] == SPECIALS.modes[options.denoisers[w].mode]
        assert len(e.inputs) + len(e.targets) <= SEQ_LEN
        if w == s:
            assert len(e.inputs) - 1 >= min_prefix(raw, 0.25)
            assert np.concatenate([e.inputs[1:], e.targets]).tolist() == row.tolist()
        else:
            assert reassemble(e.inputs[1:], e.targets) == row.tolist()


def test_weights_and_determinism():
    options = UL2Options(
        denoisers=[Denoiser(mode="NLU", mu=3, r=0.15, weight=3), Denoiser(mode="S2S", r=0.25, prefix_lm=True)]
    )
    raw = raw_length(64, options)
    tokens = np.random.default_rng(0).integers(200, 512, size=(10_000, raw))
    examples = ul2(tokens, np.random.default_rng(1), options, SPECIALS)
    nlu = np.mean([e.inputs[0] == SPECIALS.modes["NLU"] for e in examples])
    assert abs(nlu - 0.75) <= 0.02
    again = ul2(tokens, np.random.default_rng(1), options, SPECIALS)
    assert all(np.array_equal(a.inputs, b.inputs) for a, b in zip(examples, again, strict=True))


def test_every_example_fits_the_padded_lengths_of_each_architecture():
    spec, options = get_objective("ul2"), UL2Options()
    raw = spec.raw_length(SEQ_LEN, options)
    examples = ul2(
        np.random.default_rng(0).integers(200, 512, size=(3000, raw)),
        np.random.default_rng(0),
        options,
        SPECIALS,
    )
    in_len, tgt_len = spec.padded_lengths(SEQ_LEN, options, "encoder_decoder")
    assert max(len(e.inputs) for e in examples) <= in_len and max(len(e.targets) for e in examples) <= tgt_len
    assert sum(spec.padded_lengths(SEQ_LEN, options, "noncausal_decoder")) <= SEQ_LEN
    assert in_len <= SEQ_LEN
