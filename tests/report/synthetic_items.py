"""Synthetic per-item results with known effects, for the report's paired comparisons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from pretrainlab.evaluation.item_results import SCHEMA, write_item_table
from pretrainlab.report.comparisons import StudyComparisons, TaskInfo

TASKS = {
    "nli.a": TaskInfo("nli", True),
    "coreference.a": TaskInfo("coreference", True),
    "closed_book_qa.a": TaskInfo("closed_book_qa", False),
}
N = 300  # items per task
CHOICES = 3


def base(seed: int = 0, rate: float = 0.5) -> dict[str, np.ndarray]:
    """Exactly ``rate`` of each task's items right, at seeded random positions."""
    rng = np.random.default_rng(seed)
    out = {}
    for task in TASKS:
        values = np.zeros(N)
        values[rng.permutation(N)[: round(rate * N)]] = 1.0
        out[task] = values
    return out


def shifted(scores: dict[str, np.ndarray], points: int, seed: int = 1, tasks=None) -> dict[str, np.ndarray]:
    """``scores`` with ``points`` % of the items of ``tasks`` (default: all) flipped wrong -> right
    (positive) or right -> wrong (negative)."""
    rng = np.random.default_rng(seed)
    out = {}
    for task, values in scores.items():
        values = values.copy()
        if tasks is None or task in tasks:
            pool = np.flatnonzero(values == (0 if points > 0 else 1))
            values[rng.choice(pool, abs(points) * N // 100, replace=False)] = 1 if points > 0 else 0
        out[task] = values
    return out


def at_chance() -> dict[str, np.ndarray]:
    """Exactly one item in three right, evenly spread."""
    return {t: (np.arange(N) % CHOICES == 0).astype(float) for t in TASKS}


def comparisons(scores: dict[str, dict[str, np.ndarray]], samples: int = 2000) -> StudyComparisons:
    chance = {t: np.full(N, 1 / CHOICES) for t in TASKS}
    return StudyComparisons(scores, chance, TASKS, samples=samples, seed=0)


def write_items(path: Path, model: str, correct: dict[str, int], n: int, n_choices: dict[str, int]) -> None:
    """A ``.items.parquet`` where, in each task, the first ``correct[task]`` of ``n`` items are right
    (so a model with more right items is right on a superset of a weaker one's)."""
    rows = []
    for task, k in correct.items():
        for i in range(n):
            answer, choices = 0, n_choices[task]
            prediction = answer if i < k else 1
            lls = [-1.0 if c == prediction else -2.0 for c in range(choices)]
            rows.append(
                dict(
                    model=model,
                    task=task,
                    item=i,
                    item_key=f"{task}-{i}",
                    answer=answer,
                    n_choices=choices,
                    prediction=prediction,
                    correct=i < k,
                    correct_norm=i < k,
                    correct_byte_norm=i < k,
                    log_likelihood=lls,
                    choice_tokens=[1] * choices,
                    choice_bytes=[4] * choices,
                )
            )
    write_item_table(path, pa.Table.from_pylist(rows, schema=SCHEMA))
