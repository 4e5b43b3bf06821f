"""Cross-field checks of each training cell against its plan: the objective fits the architecture and the
sequence length, and the budget buys at least one step. Planning (:mod:`pretrainlab.training.plan`) only
computes; the messages a user reads live here, relative to the cell's params key, e.g. for a cell whose
``budget: {tokens: 100}`` buys no step of 4096 tokens::

    cell_plan_errors(study, "cd-flm", Path("."))
    # ["budget.tokens: 100 is less than one step (4096 tokens per step)"]
"""

from __future__ import annotations

import json
from pathlib import Path

from pretrainlab.config.lineage import model_size
from pretrainlab.config.schema import AdaptCell, ModelSize, PretrainCell, Study
from pretrainlab.objectives.registry import get_objective, valid_pairs
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.training.plan import plan_cell


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
