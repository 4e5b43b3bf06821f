"""Training throughput: the pretrain loop (``Trainer.fit``) vs a minimal hand-written loop, per architecture.

Both train the same freshly initialised model (same seed) on the same precomputed batches, on the
same device, in the same process, alternating run by run so that other load on the machine hits both
alike. The minimal loop is what any training loop must do — ``forward_logits``, ``layout.loss``,
``backward``, AdamW step, ``zero_grad`` — so the ratio is the loop's own overhead (clipping, LR
schedule, loss bookkeeping, logging). ``--compile`` adds the loop with ``torch.compile`` per block.
Throughput counts data tokens (pads excluded) per second over the steps after ``--warmup``.

    python benchmarks/train_throughput.py                     # CPU, the default study's tiny model
    python benchmarks/train_throughput.py --device cuda --precision bf16 --attn sdpa --size 125m \\
        --seq-len 1024 --batch-tokens 65536 --compile         # what gpu_check.sh runs (also MFU)

Every step is timed; on a shared machine most steps are slowed by other work, so each loop's speed
is the 90th percentile of its per-step rates (the least disturbed steps). Last line:
``train_throughput: loop_vs_minimal=<median over archs>`` of loop p90 / minimal p90 (by CPU time on
CPU, where other load swamps wall-clock ratios; by wall time on GPU).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

import numpy as np
import torch
from machine import spread, write_result

from pretrainlab.config.schema import ModelSize, OptimizerConfig, PretrainCell
from pretrainlab.models.build import build_model
from pretrainlab.models.layout import ModelBatch, forward_logits, loss
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training.batches import ObjectiveBatches
from pretrainlab.training.data import WindowSampler
from pretrainlab.training.device import resolve_runtime
from pretrainlab.training.loop import LoopConfig, Trainer
from pretrainlab.training.mfu import peak_flops
from pretrainlab.training.plan import CellPlan, plan_cell

CELLS = {  # one per architecture, objectives as in the paper's grid
    "cd": ("causal_decoder", "full_lm"),
    "nd": ("noncausal_decoder", "prefix_lm"),
    "ed": ("encoder_decoder", "span_corruption"),
}
SIZES = {
    "tiny": ModelSize(d_model=128, n_layers=4, n_heads=4, d_ff=512),  # params.yaml's default study
    "125m": ModelSize(d_model=768, n_layers=12, n_heads=12, d_ff=3072),
}


def make_cell(
    key: str, size: ModelSize, specials: SpecialTokens, seq_len: int, batch_tokens: int, steps: int
) -> tuple[CellPlan, list[ModelBatch]]:
    arch, objective = CELLS[key]
    cell = PretrainCell(arch=arch, objective=objective, model="m", budget={"tokens": 1e12})
    plan = plan_cell(cell, size, specials, seq_len=seq_len, batch_tokens=batch_tokens)
    rng = np.random.default_rng(0)
    regular = specials.regular_ids()
    stream = regular[rng.integers(0, len(regular), size=plan.window * plan.batch_size * (steps + 2))]
    sampler = WindowSampler(stream, plan.window, plan.batch_size, 0)
    make = ObjectiveBatches(sampler, get_objective(objective), cell.objective_options(), specials, plan, 0)
    return plan, [make(step) for step in range(steps)]


class StepClock:
    """Wall and CPU timestamps of each step's start (when its batch is asked for), device synchronised.

    CPU time (this process, all threads) barely moves with other load on a shared machine, wall time
    does: both are reported, and on a busy machine the CPU-time ratio is the one to trust.
    """

    def __init__(self, batches: list[ModelBatch], device: torch.device) -> None:
        self.batches, self.device = batches, device
        self.walls: list[float] = []
        self.cpus: list[float] = []

    def __call__(self, step: int) -> ModelBatch:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.walls.append(time.perf_counter())
        self.cpus.append(time.process_time())
        return self.batches[step]

    def rates(self, warmup: int) -> tuple[list[float], list[float]]:
        """Data tokens per wall second and per CPU second of each step from ``warmup`` on (a step runs
        from its timestamp to the next one, so the last timestamp closes the last timed step)."""
        walls, cpus = np.diff(self.walls[warmup:]), np.diff(self.cpus[warmup:])
        tokens = [b.num_real_tokens for b in self.batches[warmup : len(self.walls) - 1]]
        return [t / w for t, w in zip(tokens, walls, strict=True)], [
            t / max(c, 1e-9) for t, c in zip(tokens, cpus, strict=True)
        ]


def run_loop(
    model: torch.nn.Module, arch: str, batches: list[ModelBatch], args: Any, compile: bool
) -> tuple[list[float], list[float]]:
    runtime = resolve_runtime(args.device, args.precision)
    clock = StepClock(batches, runtime.device)
    config = LoopConfig(
        arch=arch,
        steps=len(batches),
        optimizer=OptimizerConfig(lr=1e-3, warmup_steps=2),
        flops_per_step=1.0,
        eval_every=10**9,  # validation only after the last step, on no batches: not timed
        record_every=10**9,
        log_interval=10**9,
        checkpoint_interval=10**9,
        progress=False,
        compile=compile,
    )
    Trainer(model, config, runtime, clock, lambda: []).fit()
    return clock.rates(args.warmup)


def run_minimal(
    model: torch.nn.Module, arch: str, batches: list[ModelBatch], args: Any
) -> tuple[list[float], list[float]]:
    runtime = resolve_runtime(args.device, args.precision)
    model = model.to(runtime.device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=1e-3, weight_decay=0.1, fused=runtime.device.type == "cuda"
    )
    clock = StepClock(batches, runtime.device)
    model.train()
    for step in range(len(batches)):
        batch = clock(step).to(runtime.device)
        with runtime.autocast():
            step_loss = loss(forward_logits(model, arch, batch), batch.labels)
        step_loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    clock(len(batches) - 1)  # the end of the last step: steps warmup .. n-1 are timed
    return clock.rates(args.warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="cd,nd,ed")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--vocab", type=int, default=2048)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=16, help="timed steps per run (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--attn", choices=("eager", "sdpa"), default="eager")
    parser.add_argument("--compile", action="store_true", help="also time the loop with torch.compile")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--name", default="train_throughput", help="results file name")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    size, specials = SIZES[args.size], SpecialTokens.for_tests(vocab_size=args.vocab, num_sentinels=100)
    total_steps = args.warmup + args.steps + 1

    results: dict[str, Any] = {}
    ratios: list[float] = []
    for key in args.archs.split(","):
        arch = CELLS[key][0]
        plan, batches = make_cell(key, size, specials, args.seq_len, args.batch_tokens, total_steps)

        def fresh(arch: str = arch) -> torch.nn.Module:
            return build_model(
                arch, size, specials, seq_len=args.seq_len, seed=0, attn_implementation=args.attn
            )

        # Per-step rates: data tokens per wall second and per CPU second of every timed step.
        runs: dict[str, list[float]] = {"loop": [], "minimal": []}
        cpu_runs: dict[str, list[float]] = {"loop": [], "minimal": []}
        for _ in range(args.repeats):  # alternate, so background load hits both alike
            for name in ("loop", "minimal"):
                model = fresh()
                wall, cpu = (
                    run_loop(model, arch, batches, args, compile=False)
                    if name == "loop"
                    else run_minimal(model, arch, batches, args)
                )
                runs[name] += wall
                cpu_runs[name] += cpu
        compile_note = None
        if args.compile:
            try:
                runs["loop_compiled"], cpu_runs["loop_compiled"] = run_loop(
                    fresh(), arch, batches, args, True
                )
            except Exception as err:  # report, do not hide, a compile failure
                compile_note = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        # On a shared machine most steps are slowed by other work, a few are not: the fastest steps
        # (90th percentile of the rate) estimate each loop's own speed; the median shows the spread.
        fast = {name: float(np.percentile(v, 90)) for name, v in runs.items()}
        fast_cpu = {name: float(np.percentile(v, 90)) for name, v in cpu_runs.items()}
        ratio, ratio_cpu = fast["loop"] / fast["minimal"], fast_cpu["loop"] / fast_cpu["minimal"]
        median_ratio = statistics.median(runs["loop"]) / statistics.median(runs["minimal"])
        ratios.append(ratio if args.device != "cpu" else ratio_cpu)
        entry: dict[str, Any] = {
            "arch": arch,
            "objective": CELLS[key][1],
            "parameters": plan.parameters,
            "non_embedding_parameters": plan.non_embedding_parameters,
            "batch_size": plan.batch_size,
            "data_tokens_per_step": plan.tokens_per_step,
            "timed_steps": {name: len(v) for name, v in runs.items()},
            "tokens_per_s_per_step": {name: spread(v) for name, v in runs.items()},
            "tokens_per_s_p90": fast,
            "tokens_per_cpu_s_p90": fast_cpu,
            "loop_vs_minimal_p90": ratio,
            "loop_vs_minimal_p90_cpu_time": ratio_cpu,
            "loop_vs_minimal_median": median_ratio,
        }
        if "loop_compiled" in runs:
            entry["compiled_vs_eager_p90"] = fast["loop_compiled"] / fast["loop"]
            entry["compiled_vs_eager_p90_cpu_time"] = fast_cpu["loop_compiled"] / fast_cpu["loop"]
        if compile_note:
            entry["compile_failed"] = compile_note
        peak = peak_flops() if args.device == "cuda" else None
        if peak:
            per_token = plan.flops_per_step / plan.tokens_per_step
            entry["mfu_p90"] = {name: per_token * v / peak for name, v in fast.items()}
            entry["mfu_median"] = {name: per_token * statistics.median(v) / peak for name, v in runs.items()}
        results[key] = entry
        print(
            f"{key}: tokens/s p90 {', '.join(f'{n} {v:.0f}' for n, v in fast.items())}; loop/minimal p90 "
            f"wall {ratio:.3f}, CPU time {ratio_cpu:.3f}; median wall {median_ratio:.3f}",
            flush=True,
        )

    headline = statistics.median(ratios) if ratios else math.nan
    config = {k: getattr(args, k) for k in ("size", "vocab", "seq_len", "batch_tokens", "steps", "warmup")}
    config.update(
        device=args.device, precision=args.precision, attn=args.attn, threads=torch.get_num_threads()
    )
    write_result(args.name, {"config": config, "cells": results, "loop_vs_minimal": headline})
    print(f"{args.name}: loop_vs_minimal={headline:.3f}")


if __name__ == "__main__":
    main()
