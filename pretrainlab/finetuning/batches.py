"""Which finetuning examples (or packed rows) a step sees: a pure function of (seed, step).

As :class:`pretrainlab.training.data.WindowSampler` does for token windows: each epoch visits the items
in a seeded permutation; global item ``i`` of step ``s`` is ``perm_e[(s·B + i) mod n]`` with
``e = (s·B + i) // n``. Resuming needs only the step; rank ``r`` of ``w`` takes items ``r, r+w, ...``
of the global batch, so the global batch does not depend on the number of ranks.

Items are whatever one row of a batch is built from: an :class:`~pretrainlab.objectives.example.Example`
(unpacked) or a list of them (one packed row from :func:`pretrainlab.finetuning.packing.pack_examples`).
Packing is done once over the whole mixture, so the same examples share a row in every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class MixtureBatches(Generic[T]):
    def __init__(self, examples: Sequence[T], batch_size: int, seed: int):
        if not examples:
            raise ValueError("no finetuning examples to batch")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.examples = examples
        self.batch_size = batch_size
        self.seed = seed

    @lru_cache(maxsize=2)  # noqa: B019 - lives as long as its run; two epochs cover a boundary
    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0x3F7]).permutation(len(self.examples))

    def indices(self, step: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
        """Indices into ``examples`` of this step's items on ``rank``."""
        global_ids = step * self.batch_size + np.arange(rank, self.batch_size, world_size)
        epochs, positions = np.divmod(global_ids, len(self.examples))
        return np.array(
            [self._permutation(int(e))[p] for e, p in zip(epochs, positions, strict=True)], dtype=np.int64
        )

    def __call__(self, step: int, rank: int = 0, world_size: int = 1) -> list[T]:
        return [self.examples[i] for i in self.indices(step, rank, world_size)]

    def epochs_for(self, steps: int) -> float:
        return steps * self.batch_size / len(self.examples)
