"""GPU checks that ``gpu_check.sh`` runs: correctness smoke, attention masks under SDPA, DDP over NCCL.

    python benchmarks/gpu_check.py smoke    # CD/ND/ED: bf16 steps on CUDA, loss finite and decreasing
    python benchmarks/gpu_check.py masks    # CD/ND/ED under sdpa on CUDA: no token sees what it must not
    torchrun --standalone --nproc_per_node N benchmarks/gpu_check.py ddp   # loop on N GPUs (NCCL)

Each writes ``gpu_<check>.json`` under ``$OUT`` (else ``benchmarks/results/``) and prints
``gpu_<check>: <metric>=<value>`` last; the exit status is non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from machine import write_result

from pretrainlab.config.schema import ModelSize, OptimizerConfig, PretrainCell
from pretrainlab.models.build import build_model
from pretrainlab.models.layout import collate, forward_logits
from pretrainlab.objectives import Example
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training import distributed
from pretrainlab.training.batches import ObjectiveBatches
from pretrainlab.training.data import WindowSampler
from pretrainlab.training.device import Runtime
from pretrainlab.training.distributed import World
from pretrainlab.training.loop import LoopConfig, Trainer
from pretrainlab.training.mfu import peak_flops
from pretrainlab.training.plan import plan_cell

CELLS = {
    "cd": ("causal_decoder", "full_lm"),
    "nd": ("noncausal_decoder", "prefix_lm"),
    "ed": ("encoder_decoder", "span_corruption"),
}


def learnable_stream(vocab: int, n: int) -> np.ndarray:
    """Repeated short motifs: a model that trains at all drives the loss down within a few dozen steps."""
    rng = np.random.default_rng(0)
    motifs = rng.integers(200, vocab, size=(64, 16))
    return motifs[rng.integers(0, 64, size=n // 16)].reshape(-1)


def train(
    key: str,
    size: ModelSize,
    specials: SpecialTokens,
    seq_len: int,
    batch_tokens: int,
    steps: int,
    world: World,
) -> dict[str, Any]:
    arch, objective = CELLS[key]
    cell = PretrainCell(arch=arch, objective=objective, model="m", budget={"tokens": 1e12})
    plan = plan_cell(cell, size, specials, seq_len=seq_len, batch_tokens=batch_tokens)
    stream = learnable_stream(specials.vocab_size, plan.window * plan.batch_size * (steps + 2))
    batches = ObjectiveBatches(
        WindowSampler(stream, plan.window, plan.batch_size, 0),
        get_objective(objective),
        cell.objective_options(),
        specials,
        plan,
        0,
    ).shard(world.rank, world.world_size)
    device = distributed.device_for(world, torch.device("cuda"))
    distributed.init_process_group(world, device)
    config = LoopConfig(
        arch=arch,
        steps=steps,
        optimizer=OptimizerConfig(lr=3e-3, warmup_steps=5),
        flops_per_step=plan.flops_per_step,
        eval_every=10**9,
        record_every=1,
        log_interval=max(1, steps // 4),
        checkpoint_interval=10**9,
        progress=False,
    )
    model = build_model(arch, size, specials, seq_len=seq_len, seed=0, attn_implementation="sdpa")
    started = time.perf_counter()
    result = Trainer(model, config, Runtime(device, "bf16"), batches, lambda: [], world=world).fit()
    losses = [row["train_loss"] for row in result.history]
    first, last = float(np.mean(losses[:3])), float(np.mean(losses[-3:]))
    return {
        "arch": arch,
        "objective": objective,
        "steps": steps,
        "losses": losses,
        "finite": all(math.isfinite(x) for x in losses),
        "decreasing": last < 0.95 * first,
        "tokens_per_s": result.tokens_per_second,
        "tokens_per_s_per_gpu": result.tokens_per_second / world.world_size,
        "mfu": result.mfu,
        "wall_seconds": time.perf_counter() - started,
    }


def smoke() -> tuple[dict[str, Any], bool, str]:
    size = ModelSize(d_model=256, n_layers=4, n_heads=4, d_ff=1024)
    specials = SpecialTokens.for_tests(vocab_size=4096, num_sentinels=100)
    cells = {key: train(key, size, specials, 256, 8192, 60, World()) for key in CELLS}
    ok = all(c["finite"] and c["decreasing"] for c in cells.values())
    return {"cells": cells}, ok, f"ok={int(ok)}"


def _changed(a: torch.Tensor, b: torch.Tensor, tol: float) -> torch.Tensor:
    return ((a.float() - b.float()).abs() > tol).any(-1)


def masks() -> tuple[dict[str, Any], bool, str]:
    """Perturb one token, watch which logits move (as tests/models/test_attention_masks.py, on CUDA)."""
    specials = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
    size = ModelSize(d_model=64, n_layers=2, n_heads=4, d_ff=128, n_kv_heads=2)
    T, prefix = 12, 5
    seq = lambda n, o=0: np.arange(20 + o, 20 + o + n)  # noqa: E731
    results: dict[str, Any] = {}
    for precision, tol in (("fp32", 1e-5), ("bf16", 1e-2)):
        for key, (arch, _) in CELLS.items():
            model = (
                build_model(arch, size, specials, seq_len=32, seed=0, attn_implementation="sdpa")
                .cuda()
                .eval()
            )
            ed = arch == "encoder_decoder"
            examples = [Example(seq(prefix), seq(T - prefix, 50)), Example(seq(3), seq(3, 50))]
            if ed:
                examples = [Example(seq(T), seq(T, 50)), Example(seq(6), seq(5, 50))]
            batch = collate(examples, arch, specials, T, T if ed else 0).to("cuda")
            autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")
            leaks, blind = [], []
            # Decoder side: a token at t may move logits at positions >= t only (targets are causal).
            first = 0 if arch != "noncausal_decoder" else prefix
            for t in range(first, T):
                with torch.no_grad(), autocast:
                    before = forward_logits(model, arch, batch)
                    ids = (batch.decoder_input_ids if ed else batch.input_ids).clone()
                    ids[0, t] = (ids[0, t] + 1 - 20) % 100 + 20
                    moved_batch = replace(batch, **{"decoder_input_ids" if ed else "input_ids": ids})
                    moved = _changed(before, forward_logits(model, arch, moved_batch), tol)[0]
                if moved[:t].any():
                    leaks.append(t)
                if t < len(moved) and not moved[t:].any():  # the last input's logits are cut off
                    blind.append(t)
            if arch == "noncausal_decoder":  # the last prefix token reaches the first position
                with torch.no_grad(), autocast:
                    before = forward_logits(model, arch, batch)
                    ids = batch.input_ids.clone()
                    ids[0, prefix - 1] += 1
                    moved = _changed(before, forward_logits(model, arch, replace(batch, input_ids=ids)), tol)[
                        0
                    ]
                if not moved[0]:
                    blind.append(f"prefix {prefix - 1} -> 0")
            results[f"{key}-{precision}"] = {"leaks": leaks, "blind": blind, "ok": not leaks and not blind}
    ok = all(r["ok"] for r in results.values())
    return results, ok, f"ok={int(ok)}"


def ddp() -> tuple[dict[str, Any], bool, str]:
    world = World.from_env("ddp")
    specials = SpecialTokens.for_tests(vocab_size=32768, num_sentinels=100)
    size = ModelSize(d_model=768, n_layers=12, n_heads=12, d_ff=3072)
    cell = train("cd", size, specials, 1024, 65536 * world.world_size, 40, world)
    ok = cell["finite"] and cell["decreasing"]
    return (
        {"world_size": world.world_size, "backend": "nccl", "cell": cell},
        ok,
        f"mfu={cell['mfu'] or float('nan'):.3f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("smoke", "masks", "ddp"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit(f"gpu_{args.check}: no CUDA device (torch {torch.__version__})")
    result, ok, headline = {"smoke": smoke, "masks": masks, "ddp": ddp}[args.check]()
    world = World.from_env()
    if world.is_main:
        result.update(ok=ok, device=torch.cuda.get_device_name(), peak_bf16_flops=peak_flops())
        write_result(f"gpu_{args.check}", result)
        print(f"gpu_{args.check}: {headline}")
    distributed.shutdown()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
