"""How learnable are synthworld's held-out clusters? Size x tokens -> held-out accuracy, paired against chance.

Reads a finished study (``params.yaml`` + ``metrics/``), typically one whose cells are the same
architecture and objective at several model sizes and token budgets (``benchmarks/heldout_sweep.yaml``
is the one recorded in ``results/heldout_sweep.json``; copy it over ``params.yaml`` in a scratch
checkout and ``dvc repro``). For every evaluated model it prints the held-out average's excess over
each item's chance rate with its paired 95% bootstrap interval (the report's own
:class:`~pretrainlab.report.comparisons.StudyComparisons`: items resampled within each task, chance as
a paired pseudo-model), the per-task accuracies, the model's size, tokens, training FLOPs and
wall-clock training time, and the resolving power of the held-out average against chance.

    python benchmarks/heldout_sweep.py --study /path/to/study [--label cpu-sweep]

Last line: ``heldout_sweep: above_chance=<models whose interval excludes 0>/<models>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from machine import write_result

from pretrainlab.config.load import load_params
from pretrainlab.evaluation.item_results import items_file, read_item_table
from pretrainlab.evaluation.paired import CHANCE, resolving_power
from pretrainlab.metrics_contract import EvaluationMetrics, TrainingMetrics, read_metrics
from pretrainlab.report.comparisons import load_comparisons


def _training_record(study_dir: Path, kind: str, model: str) -> dict[str, Any]:
    """The model's training metrics (typed and checked by the project's reader), or {} if it has none."""
    path = study_dir / "metrics" / kind / f"{model}.json"
    if not path.is_file():
        return {}
    return read_metrics(path, TrainingMetrics, f"dvc repro {kind}@{model}").model_dump()


def sweep(study_dir: Path) -> dict[str, Any]:
    study = load_params(study_dir / "params.yaml")
    folder = study_dir / "metrics" / "evaluate"
    evaluations = {
        model: read_metrics(folder / f"{model}.json", EvaluationMetrics, f"dvc repro evaluate@{model}")
        for model in study.evaluate.models
        if (folder / f"{model}.json").is_file()
    }
    comparisons = load_comparisons(study_dir / "metrics", evaluations)
    held_out = sorted(t for t, info in comparisons.tasks.items() if info.held_out)
    boot = comparisons.boot
    rows = []
    for model, kind in study.evaluate.models.items():
        if model not in evaluations:
            continue
        excess = boot.above_chance(model, held_out)
        lo, hi = excess.interval()
        items = read_item_table(items_file(folder / f"{model}.json"), model)
        # the variance of an item's score minus its chance rate, per task: what resolving_power's
        # disagreement rate stands for when one side of the pair is the chance pseudo-model
        spread = [float((items[t].correct - items[t].chance).var()) for t in held_out]
        cell = study.pretrain.cells.get(model)
        size = study.models[cell.model].model_dump() if cell is not None else None
        training = _training_record(study_dir, kind, model)
        rows.append(
            {
                "model": model,
                "stage": kind,
                "arch": cell.arch if cell else None,
                "objective": cell.objective if cell else None,
                "size": size,
                "parameters": training.get("parameters"),
                "tokens": training.get("tokens"),
                "flops": training.get("flops"),
                "train_seconds": training.get("train_seconds"),
                "tokens_per_second": training.get("tokens_per_second"),
                "val_loss": training.get("val_loss"),
                "held_out_accuracy": 100 * boot.accuracy(model, held_out),
                "chance": 100 * boot.accuracy(CHANCE, held_out),
                "excess_over_chance": 100 * excess.estimate,
                "interval_95": [100 * lo, 100 * hi],
                "p_value": excess.p_value,
                "above_chance": lo > 0,
                "tasks": {t: 100 * evaluations[model].tasks[t].accuracy for t in held_out},
                "items_per_task": {t: evaluations[model].tasks[t].n for t in held_out},
                # the smallest excess over chance detected with 80% power at this item count
                "resolving_power": 100
                * resolving_power(spread, [len(items[t].correct) for t in held_out]).detectable,
            }
        )
    return {"study": str(study_dir), "held_out_tasks": held_out, "models": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, required=True, help="a finished study directory")
    parser.add_argument("--label", default="sweep", help="name of this sweep in the results file")
    args = parser.parse_args()
    result = sweep(args.study.resolve())
    header = f"{'model':14s} {'size':>10s} {'tokens':>8s} {'held-out':>8s} {'excess [95%]':>22s}  per task"
    print(header)
    for row in result["models"]:
        size = row["size"] or {}
        dims = f"d{size.get('d_model', '?')}x{size.get('n_layers', '?')}"
        tokens = f"{row['tokens']:.2g}" if row["tokens"] else "?"
        lo, hi = row["interval_95"]
        tasks = " ".join(f"{t.split('.', 1)[1][:10]}={v:.0f}" for t, v in row["tasks"].items())
        print(
            f"{row['model']:14s} {dims:>10s} {tokens:>8s} {row['held_out_accuracy']:8.1f} "
            f"{row['excess_over_chance']:+6.1f} [{lo:+5.1f}, {hi:+5.1f}]  {tasks}"
        )
    write_result("heldout_sweep", {args.label: result})
    above = sum(r["above_chance"] for r in result["models"])
    print(f"heldout_sweep: above_chance={above}/{len(result['models'])}")


if __name__ == "__main__":
    main()
