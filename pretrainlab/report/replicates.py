"""Seeds: a pretrain cell and its replicates (``study.seeds``) summarised as mean ± 95% CI.

The interval is Student's t over the per-seed values (n seeds, n - 1 degrees of freedom): it says
how much a cell's number moves with the seed, which is what decides whether two cells differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from pretrainlab.config.replicates import Replicate
from pretrainlab.metrics_contract import EvaluationMetrics, read_metrics


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high); a single value has no interval (low = high = mean).

    >>> [round(v, 3) for v in mean_ci([0.4, 0.5, 0.6])]
    [0.5, 0.252, 0.748]
    """
    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    if len(data) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(data) - 1) * data.std(ddof=1) / np.sqrt(len(data)))
    return mean, mean - half, mean + half


def seeds_table(
    metrics_root: Path, cells: Sequence[str], seeds: Sequence[int], primary_seed: int
) -> list[str]:
    """Markdown rows: per cell, held-out and held-in accuracy and val loss, mean ± 95% CI across seeds."""
    if not seeds:
        return []
    header = "| Cell | Seeds | Held-out avg | Held-in avg | Val loss |"
    lines = [header, "|---|---|---|---|---|"]
    for cell in cells:
        stages = {cell: f"evaluate@{cell}"} | {
            (r := Replicate(cell, s)).name: r.stage("evaluate") for s in seeds
        }
        runs = [
            read_metrics(
                Path(metrics_root) / "evaluate" / f"{name}.json", EvaluationMetrics, f"dvc repro {stage}"
            )
            for name, stage in stages.items()
        ]
        cols = []
        for pick, scale, digits in (
            (lambda r: r.held_out.accuracy if r.held_out else None, 100, 1),
            (lambda r: r.held_in.accuracy if r.held_in else None, 100, 1),
            (lambda r: r.val_loss, 1, 3),
        ):
            values = [v for v in map(pick, runs) if v is not None]
            if not values:
                cols.append("—")
                continue
            mean, low, high = (x * scale for x in mean_ci(values))
            cols.append(f"{mean:.{digits}f} [{low:.{digits}f}–{high:.{digits}f}]")
        seed_list = ", ".join(str(s) for s in [primary_seed, *seeds])
        lines.append(f"| `{cell}` | {seed_list} | " + " | ".join(cols) + " |")
    return lines


def seeds_section(
    metrics_root: Path, cells: Sequence[str], seeds: Sequence[int], primary_seed: int
) -> list[str]:
    table = seeds_table(metrics_root, cells, seeds, primary_seed)
    if not table:
        return []
    note = (
        "Each pretrain cell was trained once per seed (`study.seeds` plus the study's `seed`); mean and "
        "95% t-interval across seeds. Differences between cells smaller than these intervals are seed noise."
    )
    return ["## Seeds", "", note, "", *table, ""]
