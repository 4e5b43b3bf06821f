"""What each stage costs before it does any work: process start to the first unit of work.

For every stage, ``pretrainlab stage <name> [--cell ...]`` runs in a fresh interpreter exactly as
dvc.yaml calls it (the CLI, validation of the whole study, the stage module's imports, the training
launcher's checks), except that the stage's ``main`` is replaced by a probe that prints the time and
exits: the start-up is that time minus the moment the process was spawned. The floor is what any
stage that uses torch and transformers pays at least, ``python -c "import torch, transformers"``.

The smoke study's overhead is the sum of the start-ups over its stage invocations (one per cell of
the foreach stages), set beside the same number of floors. ``--tree`` measures another checkout::

    git worktree add /tmp/before <commit>
    python benchmarks/stage_overhead.py --tree /tmp/before --label before
    python benchmarks/stage_overhead.py --label after

Writes ``runs.<label>`` of benchmarks/results/stage_overhead.json (other labels are kept); the last
line printed is ``stage_overhead[<label>]: smoke study <sum> s of start-up over <n> invocations ...``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from process_timing import record, run, summary, warm_up

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Runs `pretrainlab stage ...` with the stage's main() replaced by a probe at its first unit of work.
PROBE = """
import importlib, sys, time
from pretrainlab.cli import app
args = sys.argv[1:]

def first_unit_of_work(study, cell):
    print(f"first unit of work at {time.time():.6f}", flush=True)

importlib.import_module(f"stages.{args[1]}").main = first_unit_of_work
try:
    app(args)
except SystemExit as done:
    if done.code:
        raise
"""
FLOOR = ["-c", "import torch, transformers"]
# transformers imports its model stack lazily: a stage that builds or loads a model pays this on top
MODEL_STACK = [
    "-c",
    "import torch; from transformers import Gemma2ForCausalLM, T5GemmaForConditionalGeneration",
]


def smoke_invocations(params: Path) -> dict[str, tuple[str | None, int]]:
    """Per stage: a cell to start it with, and how many times the smoke study runs it."""
    from pretrainlab.config.load import load_params

    study = load_params(params)

    def first(names: dict) -> str:
        return next(iter(names))

    return {
        "corpus": (None, 1),
        "tokenize": (None, 1),
        "pretrain": (first(study.pretrain.cells), len(study.pretrain.cells) * (1 + len(study.study.seeds))),
        "adapt": (first(study.adapt), len(study.adapt)),
        "finetune": (first(study.finetune), len(study.finetune)),
        "evaluate": (
            first(study.evaluate.models),
            len(study.evaluate.models) + len(study.pretrain.cells) * len(study.study.seeds),
        ),
        "report": (None, 1),
    }


def start_up(tree: Path, stage: str, cell: str | None, params: Path) -> tuple[float, object]:
    args = ["-c", PROBE, "stage", stage, "--params", str(params), *(["--cell", cell] if cell else [])]
    result = run(args, tree)
    line = next(x for x in result.stdout.splitlines() if x.startswith("first unit of work at "))
    return float(line.rsplit(" ", 1)[1]) - result.started_at, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose code runs")
    parser.add_argument("--label", default="after", help="where the result goes (before / after)")
    parser.add_argument("--params", type=Path, default=ROOT / "presets" / "smoke.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    tree, params = args.tree.resolve(), args.params.resolve()
    invocations = smoke_invocations(params)
    warm_up(FLOOR, tree)
    floor = summary([run(FLOOR, tree) for _ in range(args.repeats)])
    warm_up(MODEL_STACK, tree)
    model_stack = summary([run(MODEL_STACK, tree) for _ in range(args.repeats)])
    stages: dict[str, dict] = {}
    for stage, (cell, count) in invocations.items():
        start_up(tree, stage, cell, params)  # warm-up: bytecode cached
        timings = [start_up(tree, stage, cell, params) for _ in range(args.repeats)]
        stats = summary([r for _, r in timings])
        seconds = [s for s, _ in timings]
        stats["start_up_s"] = {
            "median": round(statistics.median(seconds), 3),
            "min": round(min(seconds), 3),
            "max": round(max(seconds), 3),
            "runs": len(seconds),
        }
        stats.update(cell=cell, invocations_in_study=count)
        stages[stage] = stats
        print(
            f"{stage:>9}: start-up {stats['start_up_s']['median']:.2f} s "
            f"({stats['start_up_s']['min']:.2f}-{stats['start_up_s']['max']:.2f}), "
            f"{stats['max_rss_mb']:.0f} MB, x{count} in the study"
        )
    floor_s = floor["wall_s"]["median"]
    total = sum(s["start_up_s"]["median"] * s["invocations_in_study"] for s in stages.values())
    count = sum(s["invocations_in_study"] for s in stages.values())
    loads = (
        floor["load_1m_per_run"]
        + model_stack["load_1m_per_run"]
        + [x for s in stages.values() for x in s["load_1m_per_run"]]
    )
    result = {
        "tree": str(tree),
        "params": str(params.relative_to(ROOT) if params.is_relative_to(ROOT) else params),
        "bytecode": "cached (one warm-up run per command)",
        "floor_import_torch_transformers": floor,
        "import_torch_and_the_model_classes": model_stack,
        "stages": stages,
        "smoke_invocations": count,
        "smoke_start_up_sum_s": round(total, 2),
        "smoke_floor_sum_s": round(floor_s * count, 2),
        "smoke_start_up_over_floor": round(total / (floor_s * count), 3),
        "load_1m_range": [min(loads), max(loads)],
    }
    path = record("stage_overhead", args.label, result)
    print(f"{'floor':>9}: {floor_s:.2f} s ({floor['wall_s']['min']:.2f}-{floor['wall_s']['max']:.2f})")
    print(f"{'+models':>9}: {model_stack['wall_s']['median']:.2f} s (torch and the model classes)")
    print(f"wrote {path}")
    print(
        f"stage_overhead[{args.label}]: smoke study {total:.1f} s of start-up over {count} invocations, "
        f"{total / (floor_s * count):.2f}x the floor ({floor_s:.2f} s each, `import torch, transformers`); "
        f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
