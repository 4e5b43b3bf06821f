"""Percentile-bootstrap confidence intervals for accuracies (one task, or a mean over tasks).

An interval is the ``(1-level)/2`` and ``(1+level)/2`` percentiles of the statistic recomputed on
``samples`` resamples drawn with replacement from the items. For a mean over tasks, items are
resampled *within* each task (each task keeps its size) and the per-task accuracies are averaged,
so every task keeps the same weight it has in the point estimate.

Everything is drawn from one seeded :class:`numpy.random.Generator`, vectorised over resamples, in
chunks that keep the index matrix under a few million entries.

>>> bootstrap_ci(np.array([1, 0, 1, 1]), samples=1000, seed=0)   # doctest: +SKIP
(0.25, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MAX_CHUNK_ENTRIES = 1 << 22  # indices materialised at once (~32 MiB of int64)


def _resampled_means(values: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Mean of ``values`` on each of ``samples`` bootstrap resamples, shape ``[samples]``."""
    n = len(values)
    out = np.empty(samples, dtype=np.float64)
    chunk = max(1, _MAX_CHUNK_ENTRIES // n)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def _check(values: Sequence[float] | np.ndarray, samples: int, level: float) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError("cannot bootstrap an empty sample")
    if samples < 1:
        raise ValueError(f"samples must be positive, got {samples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return array


def _interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.percentile(stats, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, *, samples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``mean(values)`` (for accuracy, ``values`` are 0/1 per item)."""
    array = _check(values, samples, level)
    rng = np.random.default_rng(seed)
    return _interval(_resampled_means(array, samples, rng), level)


def bootstrap_mean_over_tasks(
    per_task: Sequence[Sequence[float] | np.ndarray],
    *,
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of the unweighted mean over tasks of each task's mean.

    Items are resampled within each task; the resampled task means are averaged per replicate.
    """
    if len(per_task) == 0:
        raise ValueError("cannot bootstrap a mean over zero tasks")
    arrays = [_check(values, samples, level) for values in per_task]
    rng = np.random.default_rng(seed)
    total = np.zeros(samples, dtype=np.float64)
    for array in arrays:
        total += _resampled_means(array, samples, rng)
    return _interval(total / len(arrays), level)
