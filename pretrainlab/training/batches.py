"""Model batches for a step: raw windows from the token stream -> objective -> architecture layout.

Each example's objective randomness is keyed by (seed, step, global example id), so a step's batch
is the same whether the run was resumed or split across ranks.

Packing and document boundaries: the token stream is documents back to back, each ending in
``</s>``, and a window is a fixed-length slice of it (GPT-2 / nanoGPT style), so a window may hold the
end of one document and the start of the next. Attention is *not* blocked at ``</s>``: a token may
attend to the previous document in its window, and the separator tells the model where a document
starts. This keeps every architecture's exact masks (causal, prefix-LM, encoder-decoder, encoder)
one per example, with no padding. A document-masked mode (block-diagonal attention from segment ids,
position ids restarting per document) is not implemented: it would need segment masks in
:func:`pretrainlab.models.layout.collate` and varlen/flex attention to pay off on GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pretrainlab.config.schema import AdaptCell, PretrainCell
from pretrainlab.models.layout import ModelBatch, collate
from pretrainlab.objectives.registry import ObjectiveSpec, get_objective
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training.data import WindowSampler, example_rng
from pretrainlab.training.plan import CellPlan


@dataclass
class ObjectiveBatches:
    sampler: WindowSampler
    objective: ObjectiveSpec
    options: Any
    specials: SpecialTokens
    plan: CellPlan
    seed: int
    rank: int = 0
    world_size: int = 1

    def examples(self, step: int) -> list:
        windows, example_ids = self.sampler.batch(step, self.rank, self.world_size)
        out = []
        for row, example_id in zip(windows, example_ids, strict=True):
            rng = example_rng(self.seed, step, int(example_id))
            out += self.objective.fn(row[None, :], rng, self.options, self.specials)
        return out

    def shard(self, rank: int, world_size: int) -> ObjectiveBatches:
        """This rank's share of every global batch: examples ``rank, rank + world_size, ...``."""
        return replace(self, rank=rank, world_size=world_size)

    def __call__(self, step: int) -> ModelBatch:
        return collate(
            self.examples(step), self.plan.arch, self.specials, self.plan.input_len, self.plan.target_len
        )


def fixed_batches(
    tokens: np.ndarray,
    objective: ObjectiveSpec,
    options: Any,
    specials: SpecialTokens,
    plan: CellPlan,
    num_tokens: int,
    seed: int,
) -> list[ModelBatch]:
    """The same validation batches every time (about ``num_tokens`` positions, at least one batch)."""
    sampler = WindowSampler(tokens, plan.window, plan.batch_size, seed)
    make = ObjectiveBatches(sampler, objective, options, specials, plan, seed)
    count = max(1, min(int(num_tokens // plan.tokens_per_step), sampler.num_windows // plan.batch_size))
    return [make(step) for step in range(count)]


def cell_batches(
    cell: PretrainCell | AdaptCell,
    specials: SpecialTokens,
    plan: CellPlan,
    train: np.ndarray,
    val: np.ndarray,
    *,
    eval_tokens: int,
    seed: int,
) -> tuple[ObjectiveBatches, list[ModelBatch]]:
    """A pretraining (or adaptation) cell's training batches over ``train`` and its fixed validation
    batches over ``val``: the same for every cell of one arch/objective, so their curves compare."""
    objective, options = get_objective(cell.objective), cell.objective_options()
    sampler = WindowSampler(train, plan.window, plan.batch_size, seed)
    batches = ObjectiveBatches(sampler, objective, options, specials, plan, seed)
    return batches, fixed_batches(val, objective, options, specials, plan, eval_tokens, seed + 1)
