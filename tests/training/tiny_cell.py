"""A tiny training cell run through ``run_job`` as its own process (plain or under torchrun), for
the tests that kill it or split it across ranks. Prints ``step N`` after every step and
``publishing`` before the outputs are written, so a test can kill it at a chosen moment.

    python tests/training/tiny_cell.py OUT [--steps 12] [--fingerprint fp] [--track DIR]
    torchrun --nproc_per_node 2 tests/training/tiny_cell.py OUT --cell cd=ddp/causal_decoder/full_lm ...

Each ``--cell NAME=PARALLELISM/ARCH/OBJECTIVE`` trains into ``OUT/NAME`` (several cells share one
launch, as consecutive process groups); without ``--cell``, one causal-decoder cell trains into OUT.
``--track DIR`` logs each cell to the dvclive tracker in DIR (the run ``pretrain@tiny``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from pretrainlab.config.schema import (
    DvcLiveOptions,
    ModelSize,
    OptimizerConfig,
    PretrainCell,
    ResourcesConfig,
    TrackingConfig,
)
from pretrainlab.models.build import build_model
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.training import cell as cell_module
from pretrainlab.training import loop
from pretrainlab.training.batches import ObjectiveBatches, fixed_batches
from pretrainlab.training.cell import CellOutputs, ModelCard
from pretrainlab.training.data import WindowSampler
from pretrainlab.training.job import FrozenWarmup, TrainingJob, run_job
from pretrainlab.training.plan import plan_cell
from pretrainlab.training.snapshots import snapshot_points

SPECIALS = SpecialTokens.for_tests(vocab_size=256, num_sentinels=20)
SEQ_LEN, BATCH_TOKENS = 32, 128  # 4 sequences per step


def stream(n: int = 6000) -> np.ndarray:
    rng = np.random.default_rng(0)
    motifs = rng.integers(40, 256, size=(20, 8))
    return motifs[rng.integers(0, 20, size=n // 8)].reshape(-1)


def outputs(out: Path) -> CellOutputs:
    return CellOutputs(out / "model", out / "checkpoints", out / "metrics.json", out / "curve.csv")


def run(
    out: Path,
    *,
    steps: int = 12,
    fingerprint: str = "fp",
    arch: str = "causal_decoder",
    objective: str = "full_lm",
    dropout: float = 0.0,
    parallelism: str = "ddp",
    checkpoint_interval: int = 3,
    compile: bool = False,
    warmup: FrozenWarmup | None = None,
    eval_at: tuple[int, ...] = (),
    tracked: TrackedRun | None = None,
) -> dict:
    size = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64, dropout=dropout)
    tokens_per_step = plan_cell(
        PretrainCell(arch=arch, objective=objective, model="m", budget={"tokens": 1e9}),
        size,
        SPECIALS,
        seq_len=SEQ_LEN,
        batch_tokens=BATCH_TOKENS,
    ).tokens_per_step
    cell = PretrainCell(
        arch=arch, objective=objective, model="m", budget={"tokens": tokens_per_step * (steps + 0.5)}
    )
    plan = plan_cell(cell, size, SPECIALS, seq_len=SEQ_LEN, batch_tokens=BATCH_TOKENS)
    assert plan.steps == steps, plan.steps
    spec, options = get_objective(objective), cell.objective_options()
    tokens = stream()
    batches = ObjectiveBatches(
        WindowSampler(tokens, plan.window, plan.batch_size, 0), spec, options, SPECIALS, plan, 0
    )
    val = fixed_batches(tokens[:2000], spec, options, SPECIALS, plan, 256, 1)
    resources = ResourcesConfig(
        device="cpu",
        precision="fp32",
        checkpoint_interval=checkpoint_interval,
        log_interval=1,
        compile=compile,
    ).model_copy(update={"parallelism": parallelism})  # until the schema has the key
    tokenizer_dir = out / "tokenizer"
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    (tokenizer_dir / "tokenizer.json").write_text("{}")
    job = TrainingJob(
        model=build_model(arch, size, SPECIALS, seq_len=SEQ_LEN, seed=0),
        plan=plan,
        batches=batches,
        val_batches=val,
        optimizer=OptimizerConfig(lr=1e-2, warmup_steps=2),
        seed=0,
        fingerprint=fingerprint,
        card=ModelCard("tiny", "pretrain", arch, objective, "plain", SEQ_LEN, None),
        outputs=outputs(out),
        batch_keys=(("pretrain.batch_tokens", BATCH_TOKENS), ("pretrain.seq_len", SEQ_LEN)),
        warmup=warmup,
        tokenizer_dir=tokenizer_dir,
        eval_at=snapshot_points(plan, eval_at),
    )
    return run_job(job, resources, tracked)


def assert_same_run(out: Path, reference: Path) -> None:
    """``out`` ended as ``reference`` did: the same loss curve and bit-identical final weights."""
    assert (out / "curve.csv").read_text() == (reference / "curve.csv").read_text()
    got = load_file(out / "model" / "model.safetensors")
    expected = load_file(reference / "model" / "model.safetensors")
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name


def dvclive_run(folder: Path) -> TrackedRun:
    """The dvclive tracker writing into ``folder``."""
    tracking = TrackingConfig(sinks=["dvclive"], dvclive=DvcLiveOptions(dir=str(folder)))
    return TrackedRun(tracking, group="tiny", params={})


def _announce_progress() -> None:
    step, save = loop.Trainer.step, cell_module.save_model

    def announced_step(self, batch):
        result = step(self, batch)
        print(f"step {self.scheduler.last_epoch}", flush=True)
        return result

    def announced_save(*args, **kwargs):
        print("publishing", flush=True)
        return save(*args, **kwargs)

    loop.Trainer.step = announced_step  # type: ignore[method-assign]
    cell_module.save_model = announced_save  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--fingerprint", default="fp")
    parser.add_argument("--cell", action="append", default=[], help="NAME=PARALLELISM/ARCH/OBJECTIVE")
    parser.add_argument("--track", type=Path, help="log to the dvclive tracker in this folder")
    args = parser.parse_args()
    tracked = dvclive_run(args.track) if args.track else None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    _announce_progress()
    if not args.cell:
        run(args.out, steps=args.steps, fingerprint=args.fingerprint, tracked=tracked)
    for spec in args.cell:
        name, rest = spec.split("=")
        parallelism, arch, objective = rest.split("/")
        run(
            args.out / name,
            steps=args.steps,
            fingerprint=args.fingerprint,
            arch=arch,
            objective=objective,
            parallelism=parallelism,
            tracked=tracked,
        )


if __name__ == "__main__":
    main()
