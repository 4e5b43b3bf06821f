"""What a cell's budget buys: sequence layout, tokens and FLOPs per step, number of steps.

Budgets are declared as ``{tokens: N}`` or ``{flops: F}``; both are derived for every cell and
reported, so a compute-matched grid is one line per cell. "Tokens" are positions the model
processes (padding included, encoder and decoder both counted for ED), which is what compute is
spent on. FLOPs follow the DESIGN convention (6·N_non-embedding + 12·L·d·T per token).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pretrainlab.config.schema import ModelSize, Params, PretrainCell
from pretrainlab.tokenization.specials import SpecialTokens


@dataclass(frozen=True)
class CellPlan:
    arch: str
    objective: str
    window: int  # raw tokens per example
    input_len: int  # static padded lengths given to layout.collate
    target_len: int
    batch_size: int
    tokens_per_step: int
    flops_per_step: float
    flops_per_token: float
    parameters: int
    non_embedding_parameters: int
    steps: int

    @property
    def tokens(self) -> int:
        return self.tokens_per_step * self.steps

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
            "tokens": self.tokens,
            "flops_per_token": self.flops_per_token,
            "flops": self.flops,
            "parameters": self.parameters,
            "non_embedding_parameters": self.non_embedding_parameters,
        }


def plan_cell(
    cell: PretrainCell, size: ModelSize, specials: SpecialTokens, *, seq_len: int, batch_tokens: int
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
    tokens_per_step = batch_size * (input_len + target_len)
    step_flops = flops_per_step(cell.arch, size, specials.vocab_size, batch_size, input_len, target_len)
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
        flops_per_step=step_flops,
        flops_per_token=step_flops / tokens_per_step,
        parameters=total,
        non_embedding_parameters=non_embedding,
        steps=steps,
    )


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
    from pretrainlab.objectives.registry import get_objective, valid_pairs

    cell = params.pretrain.cells[name]
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
        cell,
        params.models[cell.model],
        specials,
        seq_len=params.pretrain.seq_len,
        batch_tokens=params.pretrain.batch_tokens,
    )
    if plan.steps < 1:
        if cell.budget.tokens is not None:
            return [
                f"budget.tokens: {cell.budget.tokens:g} is less than one step ({plan.tokens_per_step} tokens per step)"
            ]
        return [
            f"budget.flops: {cell.budget.flops:g} is less than one step ({plan.flops_per_step:.3g} FLOPs per step)"
        ]
    return []
