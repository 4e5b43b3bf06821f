"""Training: loss goes down, and a run stopped after a checkpoint and resumed ends with the same
weights (bit-identical on CPU) as one that never stopped; other params never resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pretrainlab.config.schema import ModelSize, OptimizerConfig, PretrainCell
from pretrainlab.models.build import build_model
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training.batches import ObjectiveBatches, fixed_batches
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.data import WindowSampler
from pretrainlab.training.device import resolve_runtime
from pretrainlab.training.loop import LoopConfig, Trainer
from pretrainlab.training.plan import plan_cell

SPECIALS = SpecialTokens.for_tests(vocab_size=256, num_sentinels=20)
SIZE = ModelSize(
    d_model=32, n_layers=2, n_heads=2, d_ff=64, dropout=0.1
)  # dropout: RNG state must resume too


def _stream(n: int = 6000) -> np.ndarray:
    rng = np.random.default_rng(0)
    # a learnable stream: repeated short motifs over the regular ids
    motifs = rng.integers(40, 256, size=(20, 8))
    return motifs[rng.integers(0, 20, size=n // 8)].reshape(-1)


def _trainer(tmp_path, arch="causal_decoder", objective="full_lm", steps=12, fingerprint="fp", ckpt_every=5):
    cell = PretrainCell(arch=arch, objective=objective, model="m", budget={"tokens": 1e9})
    plan = plan_cell(cell, SIZE, SPECIALS, seq_len=32, batch_tokens=128)
    spec, options = get_objective(objective), cell.objective_options()
    tokens = _stream()
    batches = ObjectiveBatches(
        WindowSampler(tokens, plan.window, plan.batch_size, 0), spec, options, SPECIALS, plan, 0
    )
    val = fixed_batches(tokens[:2000], spec, options, SPECIALS, plan, 256, 1)
    config = LoopConfig(
        arch=arch,
        steps=steps,
        optimizer=OptimizerConfig(lr=1e-2, warmup_steps=2),
        flops_per_step=1.0,
        eval_every=4,
        record_every=1,
        checkpoint_interval=ckpt_every,
        progress=False,
    )
    model = build_model(arch, SIZE, SPECIALS, seq_len=32, seed=0)
    runtime = resolve_runtime("cpu", "fp32")
    return Trainer(model, config, runtime, batches, lambda: val, Checkpointer(tmp_path / "ckpt", fingerprint))


class Interrupt(Exception):
    pass


def _stop_during_call(trainer: Trainer, call: int) -> None:
    """Make ``trainer.fit()`` die (like a kill) when its ``call``-th training step starts."""
    original, calls = trainer.step, {"n": 0}

    def step(batch):
        calls["n"] += 1
        if calls["n"] == call:
            raise Interrupt
        return original(batch)

    trainer.step = step
    with pytest.raises(Interrupt):
        trainer.fit()


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("arch", "objective"), [("causal_decoder", "full_lm"), ("encoder_decoder", "span_corruption")]
)
def test_resumed_run_equals_uninterrupted_run(tmp_path, arch, objective):
    straight = _trainer(tmp_path / "a", arch, objective)
    result = straight.fit()
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]

    _stop_during_call(_trainer(tmp_path / "b", arch, objective), call=8)  # after the step-5 checkpoint
    resumed = _trainer(tmp_path / "b", arch, objective)
    resumed_result = resumed.fit()

    expected, got = _weights(straight.model), _weights(resumed.model)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    assert resumed_result.history == result.history


def test_changed_fingerprint_starts_fresh(tmp_path, caplog):
    _stop_during_call(_trainer(tmp_path, steps=12, fingerprint="old"), call=7)
    assert list((tmp_path / "ckpt").glob("step-*"))

    caplog.set_level("INFO")
    fresh = _trainer(tmp_path, steps=12, fingerprint="new")
    assert fresh.checkpointer.latest() is None
    assert "starting fresh" in caplog.text


def test_half_written_checkpoint_is_ignored(tmp_path):
    _stop_during_call(_trainer(tmp_path, steps=6), call=6)
    ckpt = tmp_path / "ckpt"
    # a later checkpoint cut mid-write: temporary directory, and a step dir with a truncated state file
    (ckpt / ".tmp-step-00000009.123").mkdir()
    broken = ckpt / "step-00000008"
    broken.mkdir()
    (broken / "trainer.json").write_text('{"step": 8, "fingerprint": "fp", "history": [], "extra": {}}')
    (broken / "state.pt").write_bytes(b"PK\x03\x04truncated")
    latest = _trainer(tmp_path, steps=6).checkpointer.latest()
    assert latest is not None and latest.trainer.step == 5
    assert not (ckpt / ".tmp-step-00000009.123").exists()
