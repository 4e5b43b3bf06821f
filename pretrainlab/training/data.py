"""Which raw token windows a training step sees: a pure function of (seed, step), so resuming needs
only the step number, and a distributed run splits the same global batch across ranks.

The token stream is cut into non-overlapping windows of ``window`` tokens; each epoch visits them in
a seeded permutation. Global example ``i`` of step ``s`` is window ``perm_e[(s·B + i) mod n]`` with
``e = (s·B + i) // n``. Rank ``r`` of ``w`` takes examples ``r, r+w, ...`` of that global batch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


class WindowSampler:
    def __init__(self, tokens: np.ndarray, window: int, batch_size: int, seed: int):
        if window < 2:
            raise ValueError(f"window must be at least 2 tokens, got {window}")
        self.tokens = tokens
        self.window = window
        self.batch_size = batch_size
        self.seed = seed
        self.num_windows = len(tokens) // window
        if self.num_windows == 0:
            raise ValueError(f"token stream of {len(tokens)} tokens is shorter than one window of {window}")

    @lru_cache(maxsize=2)  # noqa: B019 - a sampler lives as long as its run; two epochs cover a boundary
    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_windows)

    def window_indices(self, step: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
        global_ids = step * self.batch_size + np.arange(rank, self.batch_size, world_size)
        epochs, positions = np.divmod(global_ids, self.num_windows)
        return np.array([self._permutation(int(e))[p] for e, p in zip(epochs, positions, strict=True)])

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Raw tokens ``[examples, window]`` (int64) for this step and rank, and their global example ids."""
        starts = self.window_indices(step, rank, world_size) * self.window
        rows = [np.asarray(self.tokens[s : s + self.window], dtype=np.int64) for s in starts]
        return np.stack(rows), np.arange(rank, self.batch_size, world_size)

    def epochs_for(self, steps: int) -> float:
        return steps * self.batch_size / self.num_windows


def example_rng(seed: int, step: int, example: int) -> np.random.Generator:
    """The objective's randomness for one example of one step.

    Keyed by the global example id, so neither resuming nor the number of ranks changes it.
    """
    return np.random.default_rng([seed, step, example, 0x5EED])
