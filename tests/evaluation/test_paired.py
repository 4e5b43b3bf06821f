"""Paired statistics on synthetic per-item results with known effects."""

from __future__ import annotations

import numpy as np
import pytest

from pretrainlab.evaluation.paired import (
    Difference,
    ItemBootstrap,
    decide,
    disagreement_rate,
    holm,
    resolving_power,
)

TASKS = ["t0", "t1", "t2", "t3"]
N = 400  # items per task


def _base(seed: int = 0, rate: float = 0.5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {t: (rng.random(N) < rate).astype(float) for t in TASKS}


def _shifted(base: dict[str, np.ndarray], points: int, seed: int = 1) -> dict[str, np.ndarray]:
    """``base`` with ``points`` % of the items flipped, wrong -> right (positive) or right -> wrong."""
    rng = np.random.default_rng(seed)
    out = {}
    for task, values in base.items():
        values = values.copy()
        pool = np.flatnonzero(values == (0 if points > 0 else 1))
        values[rng.choice(pool, abs(points) * N // 100, replace=False)] = 1 if points > 0 else 0
        out[task] = values
    return out


def _decide(scores: dict, a: str = "a", b: str = "b", samples: int = 2000):
    boot = ItemBootstrap(scores, samples=samples, seed=0)
    [decision] = decide([boot.difference(a, b, TASKS)])
    return decision


def test_identical_models_are_unresolved():
    base = _base()
    decision = _decide({"a": base, "b": dict(base)})
    assert decision.sign == 0 and decision.estimate == 0.0
    assert (decision.low, decision.high) == (0.0, 0.0) and decision.p_value == 1.0


def test_five_points_on_every_task_is_resolved_and_reversed_is_the_other_way():
    base = _base()
    better = _shifted(base, 5)
    up = _decide({"a": better, "b": base})
    assert up.estimate == pytest.approx(0.05)
    assert up.sign == 1 and 0 < up.low < 0.05 < up.high and up.level == 0.95
    down = _decide({"a": base, "b": better})
    assert down.sign == -1 and down.high < 0 and down.estimate == pytest.approx(-0.05)


def test_overlapping_marginal_cis_can_hide_a_resolved_paired_difference():
    """Marginal CIs of 53% and 50% on 4 x 400 items overlap; the paired interval does not reach 0."""
    from pretrainlab.evaluation.bootstrap import bootstrap_mean_over_tasks

    base = _base(rate=0.5)
    better = _shifted(base, 3)
    ci_b = bootstrap_mean_over_tasks([base[t] for t in TASKS], samples=2000, seed=0)
    ci_a = bootstrap_mean_over_tasks([better[t] for t in TASKS], samples=2000, seed=1)
    assert ci_a[0] < ci_b[1]  # the CIs overlap
    assert _decide({"a": better, "b": base}).sign == 1


def test_seed_noise_is_in_the_two_level_interval():
    """Seed 0 of ``a`` is 6 points ahead, seeds 1 and 2 are 5 behind and 4 ahead: one run looks
    resolved, three runs resampled as seeds do not."""
    base = _base()
    runs = [_shifted(base, 6, seed=1), _shifted(base, -5, seed=2), _shifted(base, 4, seed=3)]
    noisy = {t: np.stack([run[t] for run in runs]) for t in TASKS}
    single = _decide({"a": {t: noisy[t][:1] for t in TASKS}, "b": base})
    assert single.sign == 1
    two_level = _decide({"a": noisy, "b": base})
    assert two_level.estimate == pytest.approx((0.06 - 0.05 + 0.04) / 3)
    assert two_level.sign == 0 and two_level.low < 0 < two_level.high
    assert two_level.high - two_level.low > 2 * (single.high - single.low)


def test_replicates_are_seeded_and_do_not_depend_on_other_models():
    base, better = _base(), _shifted(_base(), 3)
    two = ItemBootstrap({"a": better, "b": base}, samples=500, seed=3)
    three = ItemBootstrap({"c": _base(7), "a": better, "b": base}, samples=500, seed=3)
    np.testing.assert_array_equal(
        two.difference("a", "b", TASKS).replicates, three.difference("a", "b", TASKS).replicates
    )
    other = ItemBootstrap({"a": better, "b": base}, samples=500, seed=4)
    assert not np.array_equal(
        two.difference("a", "b", TASKS).replicates, other.difference("a", "b", TASKS).replicates
    )


def test_against_chance_is_paired_with_each_items_rate():
    chance = {t: np.full(N, 1 / 3) for t in TASKS}
    at_chance = {t: (np.arange(N) % 3 == 0).astype(float) for t in TASKS}  # 1/3 right, evenly spread
    above = {t: (np.arange(N) % 5 < 3).astype(float) for t in TASKS}  # 60% right
    boot = ItemBootstrap({"flat": at_chance, "good": above}, chance=chance, samples=2000)
    flat, good = decide([boot.above_chance("flat", TASKS), boot.above_chance("good", TASKS)])
    assert flat.sign == 0 and good.sign == 1
    assert good.estimate == pytest.approx(0.6 - 1 / 3, abs=0.01)


def _with_p(p: float, samples: int = 1000) -> Difference:
    """A positive difference whose bootstrap p-value is exactly ``p``."""
    negatives = round(p / 2 * samples)
    replicates = np.r_[-np.ones(negatives), np.ones(samples - negatives)]
    return Difference(1.0, replicates)


def test_holm_known_outcome():
    p = [0.01, 0.04, 0.03, 0.006]
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.024])
    decisions = decide([_with_p(v) for v in p])
    assert [d.p_value for d in decisions] == pytest.approx(p)
    assert [d.sign for d in decisions] == [1, 0, 0, 1]
    # Each interval is at its Holm step's level: ranks 2, 4, 3, 1 of m = 4.
    assert [d.level for d in decisions] == pytest.approx(
        [1 - 0.05 / 3, 1 - 0.05 / 1, 1 - 0.05 / 2, 1 - 0.05 / 4]
    )
    # 0.04 < 0.05 alone, but Holm stops at 0.03 > 0.05/2: that comparison stays unresolved.
    assert decisions[1].p_adjusted == pytest.approx(0.06)


def test_resolving_power_on_a_hand_computed_case():
    # SE = sqrt(0.2/100 + 0.3/100) / 2 = 0.0353553; (1.959964 + 0.841621) * SE = 0.099051
    power = resolving_power([0.2, 0.3], [100, 100])
    assert power.standard_error == pytest.approx(0.0353553, abs=1e-7)
    assert (power.z_alpha, power.z_power) == pytest.approx((1.959964, 0.841621), abs=1e-6)
    assert power.detectable == pytest.approx(0.099051, abs=1e-6)
    assert resolving_power([0.2], [100], power=0.5).detectable == pytest.approx(1.959964 * np.sqrt(0.002))


def test_disagreement_rate_over_pairs_of_runs():
    runs = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]])
    # pairs: (0,1) 2/4, (0,2) 2/4, (1,2) 2/4
    assert disagreement_rate(runs) == pytest.approx(0.5)
    assert disagreement_rate(runs[[0, 0]]) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="items in t0"):
        ItemBootstrap({"a": {"t0": np.ones(3)}, "b": {"t0": np.ones(4)}})
    with pytest.raises(ValueError, match="tasks"):
        ItemBootstrap({"a": {"t0": np.ones(3)}, "b": {"t1": np.ones(3)}})
    with pytest.raises(KeyError, match="'c'"):
        ItemBootstrap({"a": {"t0": np.ones(3)}}).accuracy("c", ["t0"])
