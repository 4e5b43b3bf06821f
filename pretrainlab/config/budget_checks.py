"""Cross-field checks of each training cell against its plan: the objective fits the architecture and the
sequence length, and the budget buys at least one step. Planning (:mod:`pretrainlab.training.plan`) only
computes; the messages a user reads live here, relative to the cell's params key, e.g. for a cell whose
``budget: {tokens: 100}`` buys no step of 4096 tokens::

    cell_plan_errors(study, "cd-flm", Path("."))
    # ["budget.tokens: 100 is less than one step (4096 tokens per step)"]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pretrainlab.config.lineage import model_size
from pretrainlab.config.schema import AdaptCell, Budget, ModelSize, PretrainCell, Study
from pretrainlab.objectives.registry import get_objective, valid_pairs
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training.plan import CellPlan, plan_cell, steps_for


def specials_for_validation(params: Study, base_dir: Path) -> SpecialTokens | None:
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


def cell_plan_errors(params: Study, name: str, base_dir: Path) -> list[str]:
    """Problems with one cell, as ``"<field>: message"`` relative to ``pretrain.cells.<name>``."""
    cell = params.pretrain.cells[name]
    return plan_errors(cell, params.models[cell.model], params, base_dir)


def adapt_plan_errors(params: Study, name: str, base_dir: Path) -> list[str]:
    """Problems with one adaptation, relative to ``adapt.<name>`` (its size is its source's)."""
    return plan_errors(params.adapt[name], model_size(params, f"adapt/{name}"), params, base_dir)


def plan_errors(cell: PretrainCell | AdaptCell, size: ModelSize, params: Study, base_dir: Path) -> list[str]:
    """The objective fits the architecture and the sequence length, and the budget buys a step (after
    an adaptation's cross-attention warm-up steps)."""
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
        warmup = (
            f" beyond the {plan.frozen_warmup_steps} cross-attention warm-up steps (warmup_steps), which it also pays for"
            if plan.frozen_warmup_steps
            else ""
        )
        if cell.budget.tokens is not None:
            return [
                f"budget.tokens: {cell.budget.tokens:g} is less than one step{warmup} "
                f"({plan.tokens_per_step:.0f} tokens per step)"
            ]
        return [
            f"budget.flops: {cell.budget.flops:g} is less than one step{warmup} "
            f"({plan.flops_per_step:.3g} FLOPs per step)"
        ]
    return []


def eval_at_errors(tokens: Sequence[int], plan: CellPlan, budget: Budget, key: str, owner: str) -> list[str]:
    """Each point of ``<key>.tokens`` that ``owner``'s training cannot snapshot: beyond its budget, before
    its first step (or within an adaptation's cross-attention warm-up), or on the step of the point
    before it (a step is whole: :func:`~pretrainlab.training.plan.steps_for`)."""
    per_step, warmup = plan.tokens_per_step, plan.frozen_warmup_steps
    limit = budget.tokens if budget.tokens is not None else per_step * plan.all_steps
    errors, previous = [], None
    for i, point in enumerate(tokens):
        step = steps_for(Budget(tokens=float(point)), per_step, plan.flops_per_step)
        where = f"{key}.tokens[{i}]: {point}"
        if point > limit:
            errors.append(f"{where} is beyond the budget of {owner} ({limit:.0f} tokens)")
        elif step <= warmup:
            errors.append(
                f"{where} falls within the {warmup} cross-attention warm-up steps of {owner}; the first "
                f"point after them is {per_step * (warmup + 1):.0f} tokens"
                if warmup
                else f"{where} is less than one step of {owner} ({per_step:.0f} tokens per step)"
            )
        elif step == previous:
            errors.append(
                f"{where} falls on the same step as tokens[{i - 1}] (step {step} of {owner}, "
                f"{per_step:.0f} tokens per step): keep one"
            )
        previous = step
    return errors


def study_eval_at_errors(params: Study, base_dir: Path) -> list[str]:
    """:func:`eval_at_errors` of ``pretrain.eval_at`` for every pretrain cell and of each adaptation's
    ``eval_at``; a finetune's steps depend on its mixture (its stage checks them), so only its points
    beyond a token budget are reported here. Cells whose plan has errors are left to those."""
    specials = specials_for_validation(params, base_dir)
    if specials is None:
        return []
    pretrain = params.pretrain
    cells: list[tuple[str, list[int], str, PretrainCell | AdaptCell, ModelSize]] = []
    if pretrain.eval_at.tokens:
        for name, pretrain_cell in pretrain.cells.items():
            size = params.models[pretrain_cell.model]
            cells.append(
                ("pretrain.eval_at", pretrain.eval_at.tokens, f"pretrain.cells.{name}", pretrain_cell, size)
            )
    for name, adaptation in params.adapt.items():
        if adaptation.eval_at.tokens:
            size = model_size(params, f"adapt/{name}")
            cells.append(
                (f"adapt.{name}.eval_at", adaptation.eval_at.tokens, f"adapt.{name}", adaptation, size)
            )
    errors = []
    for key, tokens, owner, cell, size in cells:
        if plan_errors(cell, size, params, base_dir):
            continue
        plan = plan_cell(cell, size, specials, seq_len=pretrain.seq_len, batch_tokens=pretrain.batch_tokens)
        errors += eval_at_errors(tokens, plan, cell.budget, key, owner)
    for name, finetuned in params.finetune.items():
        limit = finetuned.budget.tokens
        errors += [
            f"finetune.{name}.eval_at.tokens[{i}]: {point} is beyond the budget of finetune.{name} "
            f"({limit:.0f} tokens)"
            for i, point in enumerate(finetuned.eval_at.tokens)
            if limit is not None and point > limit
        ]
    return errors
