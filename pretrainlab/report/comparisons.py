"""The report's paired comparisons: every evaluated model's per-item results, checked against each
other and bootstrapped once (:class:`~pretrainlab.evaluation.paired.ItemBootstrap`), so every verdict,
``*`` mark and resolving-power figure of ``reports/study.md`` rests on the same replicates.

A model is one run, or — for a pretrain cell when ``study.seeds`` is set — the cell and its replicates
(``<cell>-seed<N>``), resampled as seeds in a two-level bootstrap. Inputs, beside each
``metrics/evaluate/<model>.json``: ``<model>.items.parquet``
(:mod:`pretrainlab.evaluation.item_results`). The report stops with a :class:`UserInputError` naming
the model when that file is missing, when its item counts differ from its metrics, or when two
models were not asked the same tasks and items (a different world, task list or ``items_per_task``): paired
comparisons need the same items.

The bootstrap uses :data:`SAMPLES` replicates seeded with :data:`SEED` (the report has no params of
its own for them), which keeps the third digit of a p-value near the Holm thresholds stable.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.item_results import TaskItems, items_file, read_item_table
from pretrainlab.evaluation.paired import Difference, ItemBootstrap, ResolvingPower, resolving_power
from pretrainlab.metrics_contract import EvaluationMetrics

SAMPLES = 5000
SEED = 0


@dataclass(frozen=True)
class TaskInfo:
    cluster: str
    held_out: bool


class StudyComparisons:
    """Paired comparisons between the study's models on any subset of its tasks.

    ``scores[model][task]`` is ``[runs, items]`` (0/1 per item; runs = seeds), ``chance[task]`` each
    item's chance rate (None: no chance pseudo-model), ``tasks`` each task's cluster and held-out flag.
    """

    def __init__(
        self,
        scores: Mapping[str, Mapping[str, np.ndarray]],
        chance: Mapping[str, np.ndarray] | None,
        tasks: Mapping[str, TaskInfo],
        *,
        samples: int = SAMPLES,
        seed: int = SEED,
    ) -> None:
        self.tasks = dict(sorted(tasks.items()))
        self._scores = {m: {t: np.atleast_2d(v) for t, v in s.items()} for m, s in scores.items()}
        self.boot = ItemBootstrap(self._scores, chance=chance, samples=samples, seed=seed)

    @property
    def models(self) -> tuple[str, ...]:
        return self.boot.models

    def held(self, held_out: bool) -> list[str]:
        """The held-out (or held-in) tasks."""
        return [t for t, info in self.tasks.items() if info.held_out == held_out]

    def clusters(self) -> dict[str, list[str]]:
        """Each cluster's tasks."""
        out: dict[str, list[str]] = {}
        for task, info in self.tasks.items():
            out.setdefault(info.cluster, []).append(task)
        return out

    def seeds(self, model: str) -> int:
        return self.boot.seeds(model)

    def accuracy(self, model: str, tasks: Sequence[str]) -> float:
        return self.boot.accuracy(model, tasks)

    def interval(self, model: str, tasks: Sequence[str], level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of the model's accuracy over ``tasks`` (items, and seeds, resampled)."""
        replicated = self.boot.replicates(model, tasks)
        lo, hi = np.percentile(replicated, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
        return float(lo), float(hi)

    def difference(self, a: str, b: str, tasks: Sequence[str]) -> Difference:
        return self.boot.difference(a, b, tasks)

    def above_chance(self, model: str, tasks: Sequence[str]) -> Difference:
        return self.boot.above_chance(model, tasks)

    def resolving_power(self, tasks: Sequence[str]) -> ResolvingPower | None:
        """Resolving power of the macro average over ``tasks``, from the rate at which the models' first
        runs disagree on an item (mean over every pair of models); None with fewer than two models."""
        if len(self.models) < 2 or not tasks:
            return None
        rates = [_pairwise_disagreement([self._scores[m][t][0] for m in self.models]) for t in tasks]
        return resolving_power(rates, [self._scores[self.models[0]][t].shape[1] for t in tasks])


def _pairwise_disagreement(runs: Sequence[np.ndarray]) -> float:
    return float(np.mean([np.mean(a != b) for a, b in itertools.combinations(runs, 2)]))


def _check_same_items(model: str, path: Path, items: Mapping[str, TaskItems], ref: str, ref_items) -> None:
    if sorted(items) != sorted(ref_items):
        missing, extra = sorted(set(ref_items) - set(items)), sorted(set(items) - set(ref_items))
        raise UserInputError(
            f"{path}: model {model!r} was evaluated on other tasks than {ref!r} (missing: "
            f"{', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'}); paired comparisons need "
            "the same tasks: rerun its evaluate stage with the study's evaluate.tasks"
        )
    for task, mine in items.items():
        theirs = ref_items[task]
        same = len(mine.keys) == len(theirs.keys) and (mine.keys == theirs.keys).all()
        if not same or not np.array_equal(mine.n_choices, theirs.n_choices):
            raise UserInputError(
                f"{path}: model {model!r} was asked other items than {ref!r} in task {task!r} "
                f"({len(mine.keys)} vs {len(theirs.keys)} items; a different synthworld or "
                "evaluate.items_per_task?); paired comparisons need the same items: rerun its evaluate stage"
            )


def load_comparisons(
    metrics_root: Path,
    evaluations: Mapping[str, EvaluationMetrics],
    runs: Mapping[str, Sequence[str]] | None = None,
    *,
    samples: int = SAMPLES,
    seed: int = SEED,
) -> StudyComparisons:
    """Read and check the per-item results of every model in ``evaluations`` (name -> its evaluate
    metrics) and of its replicate runs (``runs[model]``, after the model itself)."""
    runs = runs or {}
    folder = Path(metrics_root) / "evaluate"
    scores: dict[str, dict[str, np.ndarray]] = {}
    ref: tuple[str, dict[str, TaskItems]] | None = None
    for model, metrics in evaluations.items():
        per_run = []
        for run in [model, *runs.get(model, ())]:
            path = items_file(folder / f"{run}.json")
            items = read_item_table(path, run)
            if ref is None:
                ref = (run, items)
            _check_same_items(run, path, items, *ref)
            per_run.append(items)
        counts = {t: e.n for t, e in metrics.tasks.items()}
        found = {t: len(items.keys) for t, items in per_run[0].items()}
        if counts != found:
            raise UserInputError(
                f"{items_file(folder / f'{model}.json')}: per-item results of model {model!r} do not match "
                f"its metrics ({found} items per task vs {counts} in {model}.json); rerun "
                f"`dvc repro evaluate@{model}`"
            )
        scores[model] = {t: np.stack([r[t].correct for r in per_run]).astype(np.float64) for t in found}
    if ref is None:
        raise ValueError("no evaluations to compare")
    tasks = _task_info(evaluations, ref[1])
    chance = {t: items.chance for t, items in ref[1].items()}
    return StudyComparisons(scores, chance, tasks, samples=samples, seed=seed)


def _task_info(
    evaluations: Mapping[str, EvaluationMetrics], items: Mapping[str, TaskItems]
) -> dict[str, TaskInfo]:
    entries = next(iter(evaluations.values())).tasks
    return {t: TaskInfo(entries[t].cluster, entries[t].held_out) for t in items}
