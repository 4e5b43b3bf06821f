from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import PrefixLMOptions
from pretrainlab.objectives.prefix_lm import prefix_lm
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests()
CHI2_999_DF62 = 102.17  # chi-square critical value, 62 degrees of freedom, alpha = 0.001


def test_worked_example():
    examples = prefix_lm(
        np.array([[1, 2, 3, 4, 5]]),
        np.random.default_rng(0),
        PrefixLMOptions(fixed_prefix_fraction=0.4),
        SPECIALS,
    )
    assert examples[0].inputs.tolist() == [1, 2] and examples[0].targets.tolist() == [3, 4, 5]


def test_split_is_uniform_on_1_to_L_and_reassembles():
    length, n = 64, 12_000
    tokens = np.random.default_rng(0).integers(200, 512, size=(n, length))
    examples = prefix_lm(tokens, np.random.default_rng(1), PrefixLMOptions(), SPECIALS)
    splits = np.array([len(e.inputs) for e in examples])
    assert splits.min() == 1 and splits.max() == length - 1
    observed = np.bincount(splits, minlength=length)[1:]
    expected = n / (length - 1)
    statistic = ((observed - expected) ** 2 / expected).sum()
    try:
        from scipy.stats import chisquare

        assert chisquare(observed).pvalue > 0.001
    except ImportError:  # pragma: no cover - scipy is optional
        pass
    assert statistic < CHI2_999_DF62
    for row, e in zip(tokens[:500], examples[:500], strict=True):
        assert np.concatenate([e.inputs, e.targets]).tolist() == row.tolist()


def test_fixed_fraction_and_determinism():
    tokens = np.arange(100).reshape(1, 100).repeat(5, 0)
    examples = prefix_lm(
        tokens, np.random.default_rng(0), PrefixLMOptions(fixed_prefix_fraction=0.25), SPECIALS
    )
    assert {len(e.inputs) for e in examples} == {25}
    a = prefix_lm(tokens, np.random.default_rng(3), PrefixLMOptions(), SPECIALS)
    b = prefix_lm(tokens, np.random.default_rng(3), PrefixLMOptions(), SPECIALS)
    assert [len(e.inputs) for e in a] == [len(e.inputs) for e in b]
