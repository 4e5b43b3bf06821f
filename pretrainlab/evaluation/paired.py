"""Paired comparisons of models scored on the same items: bootstrap differences, tests against chance,
Holm's correction for several comparisons, and the smallest difference a study can resolve.

Every model of a study answers the same items, so "is A better than B?" is a question about the
per-item differences, not about whether two accuracy CIs overlap. On 6 tasks of 200 items, a model A
right on every item B gets right plus 12 more per task has the CI [54.7, 60.3] against B's
[48.5, 54.2]: they overlap, yet the paired difference is +6.0 points, 95% interval [4.7, 7.3].

Choices made here (each changes the numbers, so each is written down):

* **Statistic.** A model's accuracy is the unweighted mean over tasks of its per-task accuracy (as in
  :mod:`pretrainlab.evaluation.suite`); with several seeds, the per-task accuracy is the mean over seeds.
* **Items.** Each of ``samples`` bootstrap replicates resamples items with replacement *within each
  task* (stratified: a task keeps its size and its weight 1/T), and uses the *same* resampled items
  for every model — the pairing. A task's draws are seeded by ``seed`` and the task's name only, so
  they do not change when models or other tasks are added.
* **Seeds** (``study.seeds``: a model is several training runs). Each replicate first resamples the
  model's seeds with replacement, *independently per model* (seeds are not paired across cells), one
  draw for all tasks (a seed is one trained model), then averages the resampled item means of the
  drawn seeds: the interval holds seed-to-seed variance as well as item variance (two-level bootstrap).
  A model's seed draws are seeded by ``seed`` and its name.
* **Difference** of two models: point estimate minus point estimate; percentile interval of the
  replicated differences; two-sided p-value ``2 · min(P*(d ≤ 0), P*(d ≥ 0))`` (capped at 1), so the
  level-(1 - a) interval excludes 0 exactly when p < a (up to interpolation between replicates).
* **Against chance**: the per-item chance rate 1/(number of choices) is a pseudo-model with one seed
  (:data:`CHANCE`), resampled with the same items — a paired test, not a CI compared with a line.
* **Several comparisons** (:func:`decide`): Holm's step-down on the bootstrap p-values. The interval
  printed with a comparison is at the level of its Holm step, ``1 - α/(m - k + 1)`` for the k-th
  smallest p-value of m, and a comparison is resolved only when its Holm-adjusted p-value is below α
  *and* that interval excludes 0. A single comparison is the plain 95% interval.
* **Resolving power** (:func:`resolving_power`): the paired difference of one task's accuracy has
  variance ≈ d/n (d = the rate at which two models disagree on an item, n items; exact when the two
  accuracies are equal); the macro average over T tasks has standard error ``sqrt(Σ d_t/n_t) / T``;
  the smallest difference detected with probability ``power`` by a two-sided level-α test is
  ``(z_{1-α/2} + z_power) · SE``.

>>> boot = ItemBootstrap({"a": {"t": np.array([[1, 1, 0, 1]])}, "b": {"t": np.array([[1, 0, 0, 1]])}})
>>> round(boot.difference("a", "b", ["t"]).estimate, 2)
0.25
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CHANCE = "(chance)"  # the pseudo-model of per-item chance rates
_MAX_CHUNK_ENTRIES = 1 << 22  # item indices materialised at once (~32 MiB of int64)


def _rng(seed: int, salt: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, salt, zlib.crc32(name.encode("utf-8"))])


@dataclass(frozen=True, eq=False)  # numpy field: == is not a bool
class Difference:
    """A - B: the point estimate and its bootstrap replicates."""

    estimate: float
    replicates: np.ndarray

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of the replicated differences at ``level``."""
        lo, hi = np.percentile(self.replicates, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
        return float(lo), float(hi)

    @property
    def p_value(self) -> float:
        """Two-sided bootstrap p-value of "no difference"."""
        below, above = np.mean(self.replicates <= 0), np.mean(self.replicates >= 0)
        return float(min(1.0, 2 * min(below, above)))


class ItemBootstrap:
    """Paired bootstrap replicates of several models' accuracies on the same items (see the module docs).

    ``scores[model][task]`` is an array ``[seeds, items]`` of per-item scores in [0, 1] (1 = right),
    items in the same order for every model; every model has the same tasks and item counts. ``chance``
    (``{task: per-item chance rate}``) adds the :data:`CHANCE` pseudo-model.
    """

    def __init__(
        self,
        scores: Mapping[str, Mapping[str, np.ndarray]],
        *,
        chance: Mapping[str, np.ndarray] | None = None,
        samples: int = 5000,
        seed: int = 0,
    ) -> None:
        if samples < 1:
            raise ValueError(f"samples must be positive, got {samples}")
        runs = {
            m: {t: np.atleast_2d(np.asarray(v, dtype=np.float64)) for t, v in s.items()}
            for m, s in scores.items()
        }
        if chance is not None:
            runs[CHANCE] = {t: np.asarray(v, dtype=np.float64)[None, :] for t, v in chance.items()}
        if not runs:
            raise ValueError("no model to bootstrap")
        first = next(iter(runs))
        self.tasks = tuple(sorted(runs[first]))
        self.samples = samples
        self._columns: dict[str, slice] = {}
        stacked: dict[str, list[np.ndarray]] = {t: [] for t in self.tasks}
        width = 0
        for model, per_task in runs.items():
            if sorted(per_task) != list(self.tasks):
                raise ValueError(
                    f"{model}: tasks {sorted(per_task)} differ from {first}'s {list(self.tasks)}"
                )
            n_seeds = {v.shape[0] for v in per_task.values()}
            if len(n_seeds) != 1:
                raise ValueError(f"{model}: a different number of seeds per task")
            for task, values in per_task.items():
                if values.shape[1] != runs[first][task].shape[1] or values.shape[1] == 0:
                    raise ValueError(
                        f"{model}: {values.shape[1]} items in {task}, "
                        f"{first} has {runs[first][task].shape[1]}"
                    )
                stacked[task].append(values)
            self._columns[model] = slice(width, width + n_seeds.pop())
            width = self._columns[model].stop
        self._points = {t: np.concatenate(stacked[t]).mean(axis=1) for t in self.tasks}  # per run
        self._replicates = {
            t: _resampled_means(np.concatenate(stacked[t]), samples, _rng(seed, 0, t)) for t in self.tasks
        }
        self._seed_weights = {
            model: _seed_weights(cols.stop - cols.start, samples, _rng(seed, 1, model))
            for model, cols in self._columns.items()
        }

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m for m in self._columns if m != CHANCE)

    def seeds(self, model: str) -> int:
        cols = self._column(model)
        return cols.stop - cols.start

    def _column(self, model: str) -> slice:
        if model not in self._columns:
            raise KeyError(f"no per-item scores for model {model!r}")
        return self._columns[model]

    def _check_tasks(self, tasks: Sequence[str]) -> list[str]:
        unknown = [t for t in tasks if t not in self._replicates]
        if unknown or not tasks:
            raise ValueError(f"tasks {unknown or '[]'}: not among {list(self.tasks)}")
        return list(tasks)

    def accuracy(self, model: str, tasks: Sequence[str]) -> float:
        """Point estimate: mean over ``tasks`` of the per-task accuracy averaged over the model's seeds."""
        cols = self._column(model)
        return float(np.mean([self._points[t][cols].mean() for t in self._check_tasks(tasks)]))

    def replicates(self, model: str, tasks: Sequence[str]) -> np.ndarray:
        """The model's accuracy over ``tasks`` in each bootstrap replicate, shape ``[samples]``."""
        cols, weights = self._column(model), self._seed_weights[model]
        per_task = [(self._replicates[t][:, cols] * weights).sum(axis=1) for t in self._check_tasks(tasks)]
        return np.mean(per_task, axis=0)

    def difference(self, a: str, b: str, tasks: Sequence[str]) -> Difference:
        """``a`` minus ``b`` on the macro average over ``tasks``."""
        return Difference(
            self.accuracy(a, tasks) - self.accuracy(b, tasks),
            self.replicates(a, tasks) - self.replicates(b, tasks),
        )

    def above_chance(self, model: str, tasks: Sequence[str]) -> Difference:
        """``model`` minus the per-item chance rate (needs ``chance`` at construction)."""
        return self.difference(model, CHANCE, tasks)


def _resampled_means(runs: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``[samples, runs]``: each run's mean over the same resampled items (one draw per replicate)."""
    n = runs.shape[1]
    out = np.empty((samples, runs.shape[0]), dtype=np.float64)
    chunk = max(1, _MAX_CHUNK_ENTRIES // n)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        offsets = (np.arange(stop - start) * n)[:, None]
        counts = np.bincount((idx + offsets).ravel(), minlength=(stop - start) * n).reshape(stop - start, n)
        out[start:stop] = counts @ runs.T / n
    return out


def _seed_weights(n_seeds: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``[samples, n_seeds]``: how often each seed is drawn in each replicate, divided by ``n_seeds``."""
    if n_seeds == 1:
        return np.ones((samples, 1))
    return rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=samples) / n_seeds


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values, in the input order.

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


@dataclass(frozen=True)
class Decision:
    """One comparison after correction: the interval at its Holm step's level and the outcome."""

    estimate: float
    low: float
    high: float
    level: float  # of the interval (0.95 for a single comparison)
    p_value: float
    p_adjusted: float  # Holm over the comparisons decided together
    sign: int  # +1: A is above B, -1: below, 0: unresolved


def decide(differences: Sequence[Difference], alpha: float = 0.05) -> list[Decision]:
    """Decide comparisons made together, Holm-corrected (see the module docstring)."""
    m = len(differences)
    if m == 0:
        return []
    p = [d.p_value for d in differences]
    adjusted = holm(p)
    rank = np.empty(m, dtype=np.int64)
    rank[np.argsort(p, kind="stable")] = np.arange(m)
    out = []
    for i, difference in enumerate(differences):
        level = 1 - alpha / (m - rank[i])
        low, high = difference.interval(level)
        sign = 0
        if adjusted[i] < alpha:
            sign = 1 if low > 0 else -1 if high < 0 else 0
        out.append(Decision(difference.estimate, low, high, level, p[i], float(adjusted[i]), sign))
    return out


def disagreement_rate(runs: np.ndarray) -> float:
    """Mean over pairs of runs (rows, 0/1 per item) of the fraction of items they disagree on.

    >>> disagreement_rate(np.array([[1, 1, 0, 0], [1, 0, 1, 0]]))
    0.5
    """
    runs = np.asarray(runs, dtype=np.float64)
    k, n = runs.shape
    if k < 2:
        raise ValueError("disagreement needs at least two runs")
    right = runs.sum(axis=0)
    return float((right * (k - right)).sum() / (n * k * (k - 1) / 2))


@dataclass(frozen=True)
class ResolvingPower:
    """The smallest paired difference of a macro average a study detects (see :func:`resolving_power`)."""

    detectable: float  # in accuracy units (0.05 = 5 points)
    standard_error: float
    z_alpha: float
    z_power: float
    disagreement: tuple[float, ...]  # per task
    n_items: tuple[int, ...]  # per task


def resolving_power(
    disagreement: Sequence[float], n_items: Sequence[int], *, alpha: float = 0.05, power: float = 0.8
) -> ResolvingPower:
    """``(z_{1-α/2} + z_power) · sqrt(Σ_t d_t / n_t) / T`` for disagreement rates ``d_t`` on ``n_t`` items.

    >>> round(resolving_power([0.2, 0.3], [100, 100]).detectable, 4)
    0.0991
    """
    d, n = np.asarray(disagreement, dtype=np.float64), np.asarray(n_items, dtype=np.float64)
    if len(d) == 0 or len(d) != len(n) or (n <= 0).any():
        raise ValueError("one disagreement rate and a positive item count per task")
    se = float(np.sqrt((d / n).sum()) / len(d))
    z_alpha, z_power = float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))
    return ResolvingPower(
        (z_alpha + z_power) * se, se, z_alpha, z_power, tuple(d.tolist()), tuple(int(v) for v in n)
    )
