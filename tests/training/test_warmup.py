"""A job's frozen warm-up (adapt's cross-attention recipe) trains only its part of the model before the
main phase starts from the result; a run killed after the main phase's first checkpoint does not warm up
again and ends bit-identical to one that never stopped."""

from __future__ import annotations

import pytest
import torch

from pretrainlab.adaptation.freeze import trainable_only
from pretrainlab.training import job as job_module
from pretrainlab.training.job import FrozenWarmup
from pretrainlab.training.loop import Trainer
from tests.training import tiny_cell

STEPS = 6  # main phase; checkpoints every 3 steps


def _in_layer_1(name: str) -> bool:
    return ".layers.1." in name


LAYER_1_WARMUP = FrozenWarmup(steps=2, freeze=lambda model: trainable_only(model, _in_layer_1))


class Interrupt(Exception):
    pass


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_warmup_trains_only_its_part_and_the_main_phase_starts_from_it(tmp_path, monkeypatch):
    phases = []
    fit = Trainer.fit

    def recorded_fit(self):
        before = _weights(self.model)
        result = fit(self)
        phases.append((self.config.steps, before, _weights(self.model)))
        return result

    monkeypatch.setattr(Trainer, "fit", recorded_fit)
    tiny_cell.run(tmp_path, steps=STEPS, warmup=LAYER_1_WARMUP)

    (warm_steps, start, warmed), (main_steps, main_start, _) = phases
    assert (warm_steps, main_steps) == (2, STEPS)
    changed = {name for name in start if not torch.equal(start[name], warmed[name])}
    assert changed == {name for name in start if _in_layer_1(name)}
    assert all(torch.equal(warmed[name], main_start[name]) for name in warmed)


def test_killed_after_a_main_checkpoint_resumes_without_warming_up_again(tmp_path, monkeypatch):
    tiny_cell.run(tmp_path / "straight", steps=STEPS, warmup=LAYER_1_WARMUP)

    step, calls = Trainer.step, []

    def killed_step(self, batch):
        calls.append(1)
        if len(calls) == 2 + 4:  # the 4th main step: after the step-3 checkpoint
            raise Interrupt
        return step(self, batch)

    monkeypatch.setattr(Trainer, "step", killed_step)
    with pytest.raises(Interrupt):
        tiny_cell.run(tmp_path / "killed", steps=STEPS, warmup=LAYER_1_WARMUP)
    monkeypatch.setattr(Trainer, "step", step)
    warm_ups = []
    warm_up = job_module.warm_up
    monkeypatch.setattr(job_module, "warm_up", lambda *args: warm_ups.append(1) or warm_up(*args))
    tiny_cell.run(tmp_path / "killed", steps=STEPS, warmup=LAYER_1_WARMUP)

    assert warm_ups == []
    tiny_cell.assert_same_run(tmp_path / "killed", tmp_path / "straight")
