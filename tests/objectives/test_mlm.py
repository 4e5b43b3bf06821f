from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import MLMOptions
from pretrainlab.objectives.example import IGNORE
from pretrainlab.objectives.mlm import mlm
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=2048)


def test_ten_thousand_sequences_80_10_10():
    rng = np.random.default_rng(0)
    tokens = rng.integers(200, 2048, size=(10_000, 100))
    examples = mlm(tokens, rng, MLMOptions(), SPECIALS)
    inputs = np.stack([e.inputs for e in examples])
    labels = np.stack([e.aligned_labels for e in examples])
    assert all(len(e.targets) == 0 for e in examples)
    selected = labels != IGNORE
    assert (selected.sum(axis=1) == 15).all()  # round(100 * 0.15) per sequence
    assert (labels[selected] == tokens[selected]).all()
    assert (inputs[~selected] == tokens[~selected]).all()
    chosen = inputs[selected]
    masked = chosen == SPECIALS.mask
    kept = chosen == tokens[selected]
    randomised = ~masked & ~kept
    assert abs(masked.mean() - 0.8) <= 0.01
    assert abs(randomised.mean() - 0.1) <= 0.01
    assert abs(kept.mean() - 0.1) <= 0.01
    assert np.isin(chosen[randomised], SPECIALS.regular_ids()).all()


def test_worked_example_shape_and_determinism():
    tokens = np.array([[300, 301, 302, 303, 304]])
    a = mlm(tokens, np.random.default_rng(5), MLMOptions(mask_rate=0.4), SPECIALS)[0]
    b = mlm(tokens, np.random.default_rng(5), MLMOptions(mask_rate=0.4), SPECIALS)[0]
    assert (a.aligned_labels != IGNORE).sum() == 2
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.aligned_labels, b.aligned_labels)


def test_specials_are_never_masked_or_drawn_over_many_seeds():
    special_ids = np.array(sorted(SPECIALS.all_ids))
    for seed in range(40):
        rng = np.random.default_rng(seed)
        tokens = rng.integers(200, 2048, size=(200, 64))
        sprinkle = rng.random(tokens.shape) < 0.3  # separators, mode tokens, sentinels, pad, ... everywhere
        tokens[sprinkle] = rng.choice(special_ids, size=int(sprinkle.sum()))
        examples = mlm(tokens, rng, MLMOptions(mask_rate=0.3), SPECIALS)
        inputs = np.stack([e.inputs for e in examples])
        labels = np.stack([e.aligned_labels for e in examples])
        selected = labels != IGNORE
        assert not (selected & sprinkle).any()
        assert (inputs[sprinkle] == tokens[sprinkle]).all()
        regular = (~sprinkle).sum(axis=1)
        assert (selected.sum(axis=1) == np.minimum(round(64 * 0.3), regular)).all()
        changed = selected & (inputs != tokens) & (inputs != SPECIALS.mask)
        assert changed.any() and not np.isin(inputs[changed], special_ids).any()


def test_a_window_full_of_separators():
    eos = SPECIALS.eos
    tokens = np.full((2, 40), eos)
    tokens[0, [3, 17, 30]] = [500, 501, 502]
    few, none = mlm(tokens, np.random.default_rng(0), MLMOptions(), SPECIALS)
    assert np.flatnonzero(few.aligned_labels != IGNORE).tolist() == [3, 17, 30]  # all 3 < round(40·0.15)
    assert (few.inputs[few.aligned_labels == IGNORE] == eos).all()
    assert (none.aligned_labels == IGNORE).all() and (none.inputs == eos).all()
