import numpy as np
import pytest

from pretrainlab.evaluation.bootstrap import bootstrap_ci, bootstrap_mean_over_tasks


def test_ci_contains_the_sample_mean_and_true_rate():
    rng = np.random.default_rng(1)
    sample = (rng.random(400) < 0.7).astype(float)
    lo, hi = bootstrap_ci(sample, samples=2000, seed=0)
    assert lo < sample.mean() < hi
    assert lo < 0.7 < hi
    assert 0.05 < hi - lo < 0.15  # ~ 2·1.96·sqrt(0.21/400) = 0.09


def test_ci_narrows_with_more_items():
    rng = np.random.default_rng(2)
    widths = []
    for n in (50, 500, 5000):
        lo, hi = bootstrap_ci((rng.random(n) < 0.5).astype(float), samples=1000, seed=0)
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]


def test_deterministic_with_seed():
    sample = np.random.default_rng(0).random(37)
    assert bootstrap_ci(sample, samples=500, seed=7) == bootstrap_ci(sample, samples=500, seed=7)
    assert bootstrap_ci(sample, samples=500, seed=7) != bootstrap_ci(sample, samples=500, seed=8)


def test_constant_sample_has_a_degenerate_interval():
    assert bootstrap_ci(np.ones(30), samples=200, seed=0) == (1.0, 1.0)


def test_mean_over_tasks_resamples_within_tasks():
    # Two tasks of very different sizes: the mean over tasks weighs them equally, and the CI
    # contains that unweighted mean (0.5·(0.9 + 0.3) = 0.6), not the pooled item mean (~0.35).
    rng = np.random.default_rng(3)
    small = (rng.random(100) < 0.9).astype(float)
    large = (rng.random(2000) < 0.3).astype(float)
    lo, hi = bootstrap_mean_over_tasks([small, large], samples=2000, seed=0)
    point = 0.5 * (small.mean() + large.mean())
    assert lo < point < hi
    assert lo > np.concatenate([small, large]).mean()
    assert bootstrap_mean_over_tasks([small, large], samples=300, seed=4) == bootstrap_mean_over_tasks(
        [small, large], samples=300, seed=4
    )


def test_large_inputs_are_chunked_not_materialised():
    sample = np.zeros(200_000)
    sample[::4] = 1
    lo, hi = bootstrap_ci(sample, samples=100, seed=0)
    assert lo < 0.25 < hi


@pytest.mark.parametrize("bad", [[], np.array([])])
def test_empty_sample_is_rejected(bad):
    with pytest.raises(ValueError):
        bootstrap_ci(bad)
    with pytest.raises(ValueError):
        bootstrap_mean_over_tasks([])
