"""What a cell's budget buys: sequence layout, tokens and FLOPs per step, number of steps.

Budgets are declared as ``{tokens: N}`` or ``{flops: F}``; both are derived for every cell and
reported, so a compute-matched grid is one line per cell. "Tokens" are the tokens that carry data —
encoder and decoder both for ED, inputs and targets both for span corruption — never padding: a
prefix-LM example is ``seq_len`` tokens on every architecture even though the encoder-decoder pads
each side to ``seq_len - 1``. FLOPs follow the DESIGN convention (6·N_non-embedding + 12·L·d·T per
token) on those tokens, i.e. what a packed implementation would spend; the padded compute this
implementation actually runs is ``padded_tokens_per_step`` (equal for decoders up to a few pads;
about 2x for encoder-decoder prefix LM).

Per-example lengths of the random objectives (prefix LM, UL2) are averaged over a fixed sample of
examples, so the plan is a deterministic function of the params.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pretrainlab.config.schema import AdaptCell, ModelSize, Params, PretrainCell, Strict
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
    padded_tokens_per_step: int
    flops_per_step: float
    flops_per_token: float
    parameters: int
    non_embedding_parameters: int
    steps: int

    @property
    def tokens(self) -> int:
        return round(self.tokens_per_step * self.steps)

    @property
    def flops(self) -> float:
        return self.flops_per_step * self.steps

    def as_metrics(self) -> dict[str, float | int | str]:
        return {
            "arch": self.arch,
            "objective": self.objective,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "tokens_per_step": self.tokens_per_step,
            "padded_tokens_per_step": self.padded_tokens_per_step,
            "tokens": self.tokens,
            "flops_per_token": self.flops_per_token,
            "flops": self.flops,
            "parameters": self.parameters,
            "non_embedding_parameters": self.non_embedding_parameters,
        }


def plan_cell(
    cell: PretrainCell | AdaptCell,
    size: ModelSize,
    specials: SpecialTokens,
    *,
    seq_len: int,
    batch_tokens: int,
) -> CellPlan:
    """Lay out ``cell`` on its architecture and turn its budget into steps (at least one)."""
    from pretrainlab.models.build import count_parameters
    from pretrainlab.models.flops import flops_per_step
    from pretrainlab.objectives.registry import get_objective

    objective = get_objective(cell.objective)
    options = cell.objective_options()
    window = objective.raw_length(seq_len, options, cell.arch)
    input_len, target_len = objective.padded_lengths(seq_len, options, cell.arch)
    batch_size = batch_tokens // seq_len
    mean_inputs, mean_targets = mean_example_lengths(objective, options, specials, cell.arch, window)
    tokens_per_step = batch_size * (mean_inputs + mean_targets)
    step_flops = flops_per_step(cell.arch, size, specials.vocab_size, batch_size, mean_inputs, mean_targets)
    total, non_embedding = count_parameters(cell.arch, size, specials.vocab_size)
    if cell.budget.tokens is not None:
        steps = math.floor(cell.budget.tokens / tokens_per_step)
    else:
        steps = math.floor(cell.budget.flops / step_flops)
    return CellPlan(
        arch=cell.arch,
        objective=cell.objective,
        window=window,
        input_len=input_len,
        target_len=target_len,
        batch_size=batch_size,
        tokens_per_step=tokens_per_step,
        padded_tokens_per_step=batch_size * (input_len + target_len),
        flops_per_step=step_flops,
        flops_per_token=step_flops / tokens_per_step,
        parameters=total,
        non_embedding_parameters=non_embedding,
        steps=steps,
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
    objectives and a tight, reproducible estimate for random ones.
    """
    regular = specials.regular_ids()
    tokens = regular[np.arange(samples * window) % len(regular)].reshape(samples, window)
    examples = objective.fn(tokens, np.random.default_rng(0), options, specials)
    inputs = float(np.mean([len(e.inputs) for e in examples]))
    targets = float(np.mean([len(e.targets) for e in examples]))
    if arch == "encoder_decoder":
        return inputs, targets
    return inputs + targets, 0.0


def specials_for_validation(params: Params, base_dir: Path) -> SpecialTokens | None:
    """The special-token layout the study's tokenizer will have (None if it cannot be known yet)."""
    tok = params.tokenizer
    if tok.vocab_size is not None:
        return SpecialTokens.for_tests(tok.vocab_size, tok.sentinels)
    tokenizer_json = base_dir / str(tok.pretrained) / "tokenizer.json"
    try:
        vocab = json.loads(tokenizer_json.read_text())["model"]["vocab"]
        added = {
            t["content"]: t["id"] for t in json.loads(tokenizer_json.read_text()).get("added_tokens", [])
        }
        merged = {**vocab, **added} if isinstance(vocab, dict) else added
        return SpecialTokens.from_vocab(merged)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cell_plan_errors(params: Params, name: str, base_dir: Path) -> list[str]:
    """Problems with one cell, as ``"<field>: message"`` relative to ``pretrain.cells.<name>``."""
    cell = params.pretrain.cells[name]
    return plan_errors(cell, params.models[cell.model], params, base_dir)


def adapt_plan_errors(params: Params, name: str, base_dir: Path) -> list[str]:
    """Problems with one adaptation, relative to ``adapt.<name>`` (its size is its source's)."""
    from pretrainlab.config.lineage import model_size

    return plan_errors(params.adapt[name], model_size(params, f"adapt/{name}"), params, base_dir)


def plan_errors(cell: PretrainCell | AdaptCell, size: ModelSize, params: Params, base_dir: Path) -> list[str]:
    """The objective fits the architecture and the sequence length, and the budget buys a step."""
    from pretrainlab.objectives.registry import get_objective, valid_pairs

    objective = get_objective(cell.objective)
    if cell.arch not in objective.valid_architectures:
        fits = ", ".join(sorted(valid_pairs().get(cell.arch, ())))
        return [
            f"objective: {cell.objective!r} does not fit architecture {cell.arch!r} (valid for {cell.arch}: {fits})"
        ]
    specials = specials_for_validation(params, base_dir)
    if specials is None:
        return []
    errors = [
        f"objective: {msg}"
        for msg in objective.check(params.pretrain.seq_len, cell.objective_options(), specials)
    ]
    if errors:
        return errors
    plan = plan_cell(
        cell, size, specials, seq_len=params.pretrain.seq_len, batch_tokens=params.pretrain.batch_tokens
    )
    if plan.steps < 1:
        if cell.budget.tokens is not None:
            return [
                f"budget.tokens: {cell.budget.tokens:g} is less than one step ({plan.tokens_per_step:.0f} tokens per step)"
            ]
        return [
            f"budget.flops: {cell.budget.flops:g} is less than one step ({plan.flops_per_step:.3g} FLOPs per step)"
        ]
    return []
