"""Learning-rate schedules: T5X's inverse square root, and which schedules keep a curve's middle comparable."""

from __future__ import annotations

import math

import pytest

from pretrainlab.config.schema import OptimizerConfig
from pretrainlab.training.schedule import LENGTH_INDEPENDENT, inverse_sqrt, lr_multiplier


def test_inverse_sqrt_is_t5x_constant_times_rsqrt_decay():
    # T5X pretraining: factors "constant * rsqrt_decay", base_learning_rate 1, warmup_steps 10_000:
    # lr = 1 / sqrt(max(step, 10_000)) -> 0.01 on the plateau, 0.005 at 40k steps, 0.001 at 1M.
    t5x = [1 / math.sqrt(max(step, 10_000)) for step in (0, 5_000, 10_000, 40_000, 1_000_000)]
    ours = [0.01 * inverse_sqrt(step, 10_000) for step in (0, 5_000, 10_000, 40_000, 1_000_000)]
    assert ours == pytest.approx(t5x)
    assert ours == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.001])


def test_inverse_sqrt_worked_example_through_the_optimizer_config():
    cfg = OptimizerConfig(lr=3e-3, warmup_steps=30, schedule="inverse_sqrt")
    values = [cfg.lr * lr_multiplier(step, 1000, cfg) for step in (0, 29, 30, 120, 270)]
    # plateau at 3e-3 for 30 steps, then 3e-3·sqrt(30/step): 1.5e-3 at 120, 1e-3 at 270
    assert values == pytest.approx([3e-3, 3e-3, 3e-3, 1.5e-3, 1e-3])


def test_inverse_sqrt_without_warmup_starts_at_the_full_rate():
    cfg = OptimizerConfig(warmup_steps=0, schedule="inverse_sqrt")
    assert [lr_multiplier(s, 10, cfg) for s in (0, 1, 4)] == pytest.approx([1.0, 1.0, 0.5])


@pytest.mark.parametrize("schedule", ["inverse_sqrt", "constant", "cosine", "linear"])
def test_only_length_independent_schedules_give_a_shorter_run_the_same_rates(schedule):
    cfg = OptimizerConfig(warmup_steps=10, schedule=schedule)
    short = [lr_multiplier(s, 100, cfg) for s in range(100)]
    long = [lr_multiplier(s, 400, cfg) for s in range(100)]
    assert (short == long) == (schedule in LENGTH_INDEPENDENT)


def test_unknown_schedule_is_rejected_naming_the_choices():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="inverse_sqrt"):
        OptimizerConfig(schedule="rsqrt")
