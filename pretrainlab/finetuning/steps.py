"""Finetuning batches and their plan: the MTF mixture as step-addressed model batches.

Decoders pack several prompt→answer examples per row (segment masks keep them apart) when
``packing`` is on; the encoder-decoder pads each side. The plan counts data tokens, like pretraining,
and turns the budget into steps by the same rule (:func:`~pretrainlab.training.plan.steps_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pretrainlab.config.schema import FinetuneCell, ModelSize
from pretrainlab.errors import UserInputError
from pretrainlab.finetuning.batches import MixtureBatches
from pretrainlab.finetuning.packing import collate_packed, pack_examples
from pretrainlab.finetuning.tokenised_mixture import example_lengths
from pretrainlab.models.architectures import architecture
from pretrainlab.models.flops import flops_per_step
from pretrainlab.models.layout import ModelBatch, collate
from pretrainlab.models.param_count import count_parameters
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training.plan import CellPlan, steps_for

VAL_FRACTION = 0.05  # of the mixture, held back for the loss curve


@dataclass
class FinetuneBatches:
    """step -> the :class:`ModelBatch` of that step (this rank's share of the global batch)."""

    rows: MixtureBatches
    arch: str
    specials: SpecialTokens
    seq_len: int
    target_len: int
    packed: bool
    rank: int = 0
    world_size: int = 1

    def shard(self, rank: int, world_size: int) -> FinetuneBatches:
        return replace(self, rank=rank, world_size=world_size)

    def __call__(self, step: int) -> ModelBatch:
        items = self.rows(step, self.rank, self.world_size)
        if self.packed:
            return collate_packed(items, self.arch, self.specials, self.seq_len)
        input_len = architecture(self.arch).input_len(self.seq_len, self.target_len)
        return collate(items, self.arch, self.specials, input_len, self.target_len)


def finetune_batches(
    examples: Sequence[Example],
    cell: FinetuneCell,
    arch: str,
    specials: SpecialTokens,
    *,
    seq_len: int,
    batch_size: int,
    seed: int,
) -> FinetuneBatches:
    packed = cell.packing and architecture(arch).packable
    rows: Sequence = pack_examples(examples, seq_len) if packed else examples
    target_len = int(example_lengths(examples)[1].max())
    return FinetuneBatches(
        MixtureBatches(rows, batch_size, seed), arch, specials, seq_len, target_len, packed
    )


def finetune_plan(
    examples: Sequence[Example],
    batches: FinetuneBatches,
    cell: FinetuneCell,
    size: ModelSize,
    *,
    batch_size: int,
) -> CellPlan:
    """Steps bought by ``cell.budget`` at the mixture's mean data tokens per row (0 if not one step)."""
    arch, specials = batches.arch, batches.specials
    n_in, n_tgt = (float(lengths.mean()) for lengths in example_lengths(examples))
    per_row = len(examples) / len(batches.rows.examples)  # examples per row (1 unless packed)
    spec = architecture(arch)
    mean_in, mean_tgt = (side * per_row for side in spec.side_lengths(n_in, n_tgt))
    tokens_per_step = batch_size * (mean_in + mean_tgt)
    step_flops = flops_per_step(arch, size, specials.vocab_size, batch_size, mean_in, mean_tgt)
    total, non_embedding = count_parameters(arch, size, specials.vocab_size)
    padded = batch_size * (spec.input_len(batches.seq_len, batches.target_len) + batches.target_len)
    return CellPlan(
        arch=arch,
        objective="mtf",
        window=batches.seq_len,
        input_len=batches.seq_len,
        target_len=batches.target_len,
        batch_size=batch_size,
        tokens_per_step=tokens_per_step,
        padded_tokens_per_step=padded,
        flops_per_step=step_flops,
        flops_per_token=step_flops / tokens_per_step,
        parameters=total,
        non_embedding_parameters=non_embedding,
        steps=steps_for(cell.budget, tokens_per_step, step_flops),
    )


@dataclass(frozen=True)
class MixtureTraining:
    """A finetuning cell's plan, training batches and validation batches, over its mixture's examples."""

    plan: CellPlan
    batches: FinetuneBatches
    val_batches: list[ModelBatch]
    train_examples: int  # the examples the batches draw from (the rest validate)


def mixture_training(
    examples: Sequence[Example],
    cell: FinetuneCell,
    arch: str,
    specials: SpecialTokens,
    size: ModelSize,
    *,
    seq_len: int,
    batch_tokens: int,
    seed: int,
    key: str,
) -> MixtureTraining:
    """Hold back :data:`VAL_FRACTION` of ``examples`` (at least one) to validate on, batch the rest and
    plan its steps; a budget that buys no step is refused, naming ``<key>.budget``."""
    n_val = max(1, int(len(examples) * VAL_FRACTION))
    train, held_out = examples[n_val:], examples[:n_val]
    batch_size = batch_tokens // seq_len
    batches = finetune_batches(train, cell, arch, specials, seq_len=seq_len, batch_size=batch_size, seed=seed)
    val = finetune_batches(held_out, cell, arch, specials, seq_len=seq_len, batch_size=batch_size, seed=0)
    val_batches = [val(step) for step in range(max(1, len(val.rows.examples) // batch_size))]
    plan = finetune_plan(train, batches, cell, size, batch_size=batch_size)
    if plan.steps < 1:
        by_tokens = cell.budget.tokens is not None
        what, per_step = ("tokens", plan.tokens_per_step) if by_tokens else ("flops", plan.flops_per_step)
        raise UserInputError(
            f"{key}.budget.{what}: {getattr(cell.budget, what):g} is less than one step of this mixture "
            f"({per_step:.3g} {what} per step)"
        )
    return MixtureTraining(plan, batches, val_batches, len(train))
