"""What a cell's budget buys: sequence layout, tokens and FLOPs per step, number of steps.

Budgets are declared as ``{tokens: N}`` or ``{flops: F}``; both are derived for every cell and
reported, so a token-matched grid (Wang et al. 2022: the same tokens for every model) or a
compute-matched one is one line per cell. "Tokens" are the tokens that carry data — encoder and
decoder both for ED, inputs and targets both for span corruption — never padding: a prefix-LM example
is ``seq_len`` tokens on every architecture even though the encoder-decoder pads each side to
``seq_len - 1``. FLOPs follow :mod:`pretrainlab.models.flops` (6·N_non-embedding + 12·L·d·T per
position, plus 6·d·V where the LM head is applied) on those tokens, i.e. what a packed implementation
would spend; the positions this implementation actually runs, padding included, are
``padded_positions`` (equal to the tokens for decoders up to a few pads; about 2x for encoder-decoder
prefix LM).

An adaptation's budget covers all of its steps: the cross-attention warm-up steps that train only
cross-attention (``adapt.<name>.warmup_steps``, counted at the full step cost) come out of it, so
``steps`` (the main phase) is what is left.

Per-example lengths of the random objectives (prefix LM, UL2) are averaged over a fixed sample of
examples, so the plan is a deterministic function of the params.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pretrainlab.config.schema import (
    AdaptCell,
    Budget,
    ModelSize,
    OptimizerConfig,
    PretrainCell,
    Strict,
)
from pretrainlab.models.architectures import architecture
from pretrainlab.models.flops import Flops, step_flops
from pretrainlab.models.param_count import count_parameters
from pretrainlab.objectives.registry import ObjectiveSpec
from pretrainlab.tokenization.specials import SpecialTokens


@dataclass(frozen=True)
class CellPlan:
    arch: str
    objective: str
    window: int  # raw tokens per example
    input_len: int  # static padded lengths given to layout.collate
    target_len: int
    batch_size: int
    tokens_per_step: float  # data tokens (no padding), expected value for random-length objectives
    padded_tokens_per_step: int  # positions the model runs, padding included
    flops_per_step: float
    flops_per_token: float  # per data token
    parameters: int
    non_embedding_parameters: int
    steps: int  # the main phase (what the training loop runs)
    step_flops: Flops | None = None  # flops_per_step by term
    frozen_warmup_steps: int = 0  # an adaptation's cross-attention warm-up, before ``steps``
    lr_schedule: str | None = None  # optimizer.schedule, when the caller says which

    @property
    def all_steps(self) -> int:
        return self.frozen_warmup_steps + self.steps

    @property
    def tokens(self) -> int:
        return round(self.tokens_per_step * self.all_steps)

    @property
    def padded_positions(self) -> int:
        return self.padded_tokens_per_step * self.all_steps

    @property
    def flops(self) -> float:
        return self.flops_per_step * self.all_steps

    def as_metrics(self) -> dict[str, object]:
        metrics: dict[str, object] = {
            "arch": self.arch,
            "objective": self.objective,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "tokens_per_step": self.tokens_per_step,
            "padded_tokens_per_step": self.padded_tokens_per_step,
            "tokens": self.tokens,
            "padded_positions": self.padded_positions,
            "flops_per_token": self.flops_per_token,
            "flops": self.flops,
            "parameters": self.parameters,
            "non_embedding_parameters": self.non_embedding_parameters,
        }
        if self.step_flops is not None:
            per_token = self.step_flops.scaled(1.0 / self.tokens_per_step)
            metrics["flops_per_token_components"] = per_token.as_dict()
        if self.frozen_warmup_steps:
            metrics["frozen_warmup_steps"] = self.frozen_warmup_steps
            metrics["frozen_warmup_tokens"] = round(self.tokens_per_step * self.frozen_warmup_steps)
        if self.lr_schedule is not None:
            metrics["lr_schedule"] = self.lr_schedule
        return metrics


def steps_for(budget: Budget, tokens_per_step: float, flops_per_step: float) -> int:
    """The whole steps ``budget`` pays for: rounded down, so a cell never spends more than its budget.

    Every training stage counts steps this way. A budget that buys less than one step gives 0; the
    caller refuses it, naming the budget's key.
    """
    if budget.tokens is not None:
        return math.floor(budget.tokens / tokens_per_step)
    return math.floor(budget.flops / flops_per_step)


def plan_cell(
    cell: PretrainCell | AdaptCell,
    size: ModelSize,
    specials: SpecialTokens,
    *,
    seq_len: int,
    batch_tokens: int,
    optimizer: OptimizerConfig | None = None,
) -> CellPlan:
    """Lay out ``cell`` on its architecture and turn its budget into steps.

    ``optimizer`` (a pretrain cell's; an adaptation has its own) only records the schedule in the
    metrics, where the report reads whether a loss curve's intermediate points are comparable.
    """
    from pretrainlab.objectives.registry import get_objective

    objective = get_objective(cell.objective)
    options = cell.objective_options()
    window = objective.raw_length(seq_len, options, cell.arch)
    input_len, target_len = objective.padded_lengths(seq_len, options, cell.arch)
    batch_size = batch_tokens // seq_len
    mean_inputs, mean_targets = mean_example_lengths(objective, options, specials, cell.arch, window)
    tokens_per_step = batch_size * (mean_inputs + mean_targets)
    flops = step_flops(cell.arch, size, specials.vocab_size, batch_size, mean_inputs, mean_targets)
    total, non_embedding = count_parameters(cell.arch, size, specials.vocab_size)
    all_steps = steps_for(cell.budget, tokens_per_step, flops.total)
    frozen = cell.warmup_steps if isinstance(cell, AdaptCell) else 0
    if optimizer is None and isinstance(cell, AdaptCell):
        optimizer = cell.optimizer
    return CellPlan(
        arch=cell.arch,
        objective=cell.objective,
        window=window,
        input_len=input_len,
        target_len=target_len,
        batch_size=batch_size,
        tokens_per_step=tokens_per_step,
        padded_tokens_per_step=batch_size * (input_len + target_len),
        flops_per_step=flops.total,
        flops_per_token=flops.total / tokens_per_step,
        parameters=total,
        non_embedding_parameters=non_embedding,
        steps=all_steps - frozen,
        step_flops=flops,
        frozen_warmup_steps=frozen,
        lr_schedule=None if optimizer is None else optimizer.schedule,
    )


def mean_example_lengths(
    objective: ObjectiveSpec,
    options: Strict,
    specials: SpecialTokens,
    arch: str,
    window: int,
    samples: int = 512,
) -> tuple[float, float]:
    """Mean (encoder-side, decoder-side) data tokens per example on ``arch``.

    Decoders read ``inputs ⊕ targets`` as one sequence (all on the "input" side here); lengths do not
    depend on token values, so a fixed synthetic sample gives the exact mean for deterministic
    objectives and a tight, reproducible estimate for random ones. The sample does not depend on
    ``arch``, so it is drawn once per (objective, options, layout, window) in a process: validation
    plans every cell, and cells of one objective share it.
    """
    key = (objective.name, repr(options), repr(specials), window, samples)
    if key not in _SAMPLED_LENGTHS:
        regular = specials.regular_ids()
        tokens = regular[np.arange(samples * window) % len(regular)].reshape(samples, window)
        examples = objective.fn(tokens, np.random.default_rng(0), options, specials)
        inputs = float(np.mean([len(e.inputs) for e in examples]))
        targets = float(np.mean([len(e.targets) for e in examples]))
        _SAMPLED_LENGTHS[key] = (inputs, targets)
    return architecture(arch).side_lengths(*_SAMPLED_LENGTHS[key])


_SAMPLED_LENGTHS: dict[tuple[str, str, str, int, int], tuple[float, float]] = {}
