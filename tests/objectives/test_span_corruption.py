from __future__ import annotations

import numpy as np
import pytest

from pretrainlab.config.schema import SpanCorruptionOptions
from pretrainlab.objectives.span_corruption import (
    corrupt,
    example_lengths,
    noise_counts,
    random_spans_noise_mask,
    raw_length,
    span_corruption,
)
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests()
SENTINELS = SPECIALS.sentinels


def test_worked_example_from_the_docstring():
    a, b, c, d, e = 200, 201, 202, 203, 204
    inputs, targets = corrupt(np.array([[a, b, c, d, e]]), np.array([[0, 1, 1, 0, 0]], dtype=bool), SPECIALS)
    assert inputs[0].tolist() == [a, SENTINELS[0], d, e, SPECIALS.eos]
    assert targets[0].tolist() == [SENTINELS[0], b, c, SPECIALS.eos]


def test_t5_counts_and_helper_match_wang_et_al():
    assert noise_counts(568, 0.15, 3.0) == (85, 28)
    # T5 / Wang et al.: 626 decoder tokens hold inputs 512 + targets 114 from 568 raw tokens
    assert raw_length(626, SpanCorruptionOptions()) == 568
    assert example_lengths(568, 0.15, 3.0) == (512, 114)


def test_ten_thousand_sequences_noise_rate_span_length_sentinels_and_reassembly(reassemble):
    rng = np.random.default_rng(0)
    options = SpanCorruptionOptions()
    raw = raw_length(256, options)
    tokens = rng.integers(200, 512, size=(10_000, raw))
    examples = span_corruption(tokens, rng, options, SPECIALS)
    inputs = np.stack([e.inputs for e in examples])
    targets = np.stack([e.targets for e in examples])
    assert inputs.shape[1] + targets.shape[1] <= 256
    is_sentinel = np.isin(targets, SENTINELS)
    num_spans = is_sentinel.sum(axis=1)
    num_noise = targets.shape[1] - 1 - num_spans
    assert abs(num_noise.sum() / tokens.size - 0.15) <= 0.005
    assert abs(num_noise.sum() / num_spans.sum() - 3.0) <= 0.1
    # span lengths vary (random segmentation), they are not all the mean
    mask = random_spans_noise_mask(2_000, raw, 0.15, 3.0, rng)
    starts = mask & ~np.pad(mask, ((0, 0), (1, 0)))[:, :-1]
    assert not mask[:, 0].any() and mask[:, -1].all()  # T5: non-noise first, noise last
    lengths = np.diff(np.flatnonzero(np.diff(np.pad(mask.astype(int), ((0, 0), (1, 1))).ravel())))[::2]
    assert lengths.min() == 1 and lengths.max() > 6 and starts.sum() == len(lengths)
    for row, example in zip(tokens, examples, strict=True):
        assert reassemble(example.inputs, example.targets) == row.tolist()
        assert example.aligned_labels is None and example.inputs.dtype == np.int64


def test_deterministic_for_a_seed():
    tokens = np.random.default_rng(1).integers(200, 512, size=(8, 100))
    run = [
        span_corruption(tokens, np.random.default_rng(7), SpanCorruptionOptions(), SPECIALS) for _ in range(2)
    ]
    other = span_corruption(tokens, np.random.default_rng(8), SpanCorruptionOptions(), SPECIALS)
    assert all(np.array_equal(x.inputs, y.inputs) for x, y in zip(*run, strict=True))
    assert not all(np.array_equal(x.inputs, y.inputs) for x, y in zip(run[0], other, strict=True))


def test_more_spans_than_sentinels_is_an_error():
    few = SpecialTokens.for_tests(num_sentinels=2)
    with pytest.raises(ValueError, match="sentinels"):
        span_corruption(np.full((1, 100), 300), np.random.default_rng(0), SpanCorruptionOptions(), few)
