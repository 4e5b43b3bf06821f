"""What a budget buys: tokens and padded positions, FLOPs by term, an adaptation's warm-up inside its budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pretrainlab.config.load import ParamsError, load_params
from pretrainlab.config.schema import AdaptCell, ModelSize, OptimizerConfig, PretrainCell
from pretrainlab.tokenization.specials import SpecialTokens
from tests.conftest import SMOKE

SPECIALS = SpecialTokens.for_tests(vocab_size=256, num_sentinels=20)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
SEQ_LEN, BATCH_TOKENS = 32, 128  # 4 sequences per step


def _plan(cell, **kwargs):
    from pretrainlab.training.plan import plan_cell

    return plan_cell(cell, SIZE, SPECIALS, seq_len=SEQ_LEN, batch_tokens=BATCH_TOKENS, **kwargs)


def test_token_budget_reports_data_tokens_padded_positions_and_flops_by_term():
    cell = PretrainCell(arch="causal_decoder", objective="full_lm", model="m", budget={"tokens": 1300})
    plan = _plan(cell, optimizer=OptimizerConfig(schedule="inverse_sqrt"))
    metrics = plan.as_metrics()
    # full LM: 4 examples of seq_len = 32 data tokens per step
    assert plan.tokens_per_step == 4 * 32 and plan.steps == 1300 // 128 == 10
    assert metrics["tokens"] == 1280 and metrics["padded_positions"] == 10 * plan.padded_tokens_per_step
    parts = metrics["flops_per_token_components"]
    assert parts["lm_head"] == 6 * 32 * 256  # every decoder position pays the head
    assert sum(parts.values()) == pytest.approx(metrics["flops_per_token"])
    assert metrics["flops"] == pytest.approx(metrics["flops_per_token"] * 1280)
    assert metrics["lr_schedule"] == "inverse_sqrt"
    assert "lr_schedule" not in _plan(cell).as_metrics()  # unknown unless the caller says


def test_encoder_decoder_pays_the_head_only_on_decoder_positions():
    cell = PretrainCell(
        arch="encoder_decoder", objective="span_corruption", model="m", budget={"tokens": 5e3}
    )
    plan = _plan(cell)
    per_token = plan.as_metrics()["flops_per_token_components"]
    decoder_share = plan.step_flops.lm_head / (6 * 32 * 256) / plan.tokens_per_step
    assert 0.1 < decoder_share < 0.5  # targets are a minority of a span-corruption example's tokens
    assert per_token["lm_head"] == pytest.approx(6 * 32 * 256 * decoder_share)


def test_flops_budget_still_works():
    by_flops = PretrainCell(arch="causal_decoder", objective="full_lm", model="m", budget={"flops": 1e9})
    plan = _plan(by_flops)
    assert plan.steps == int(1e9 // plan.flops_per_step) and plan.flops <= 1e9


def test_adaptation_warmup_steps_come_out_of_its_budget_and_count_in_its_tokens():
    adapt = AdaptCell.model_validate(
        {
            "from": "pretrain/cd",
            "arch": "encoder_decoder",
            "objective": "prefix_lm",
            "budget": {"tokens": 20 * 128},
            "cross_attention": "random",
            "warmup_steps": 3,
        }
    )
    plan = _plan(adapt)
    per_step = plan.tokens_per_step
    all_steps = int(20 * 128 // per_step)
    assert (plan.frozen_warmup_steps, plan.steps) == (3, all_steps - 3)
    metrics = plan.as_metrics()
    assert metrics["tokens"] == round(per_step * all_steps)  # the warm-up is adaptation compute too
    assert metrics["frozen_warmup_tokens"] == round(per_step * 3)
    assert metrics["flops"] == pytest.approx(plan.flops_per_step * all_steps)
    assert metrics["lr_schedule"] == "constant"  # its own optimizer, not pretrain.optimizer


def test_adaptation_has_its_own_optimizer_defaults():
    adapt = AdaptCell.model_validate(
        {"from": "pretrain/cd", "arch": "causal_decoder", "objective": "full_lm", "budget": {"tokens": 1e4}}
    )
    assert adapt.optimizer == OptimizerConfig(lr=1e-3, warmup_steps=10, schedule="constant")


def test_budget_that_only_pays_for_the_warmup_names_the_key(tmp_path: Path):
    raw = yaml.safe_load(SMOKE.read_text())
    ed = next(n for n, c in raw["adapt"].items() if c.get("cross_attention") == "random")
    raw["adapt"][ed]["budget"] = {"tokens": 2000.0}
    raw["adapt"][ed]["warmup_steps"] = 4
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    [error] = info.value.errors
    assert error.startswith(f"adapt.{ed}.budget.tokens: 2000 is less than one step beyond the 4")
    assert "warmup_steps" in error
