"""Cross-field rules of a study: each returns ``"key.path: message"`` lines, never raises.

The shape of each section is checked by :mod:`pretrainlab.config.schema`; what needs two sections at
once (a cell's model size exists, an objective fits its architecture, a budget buys one step, every
evaluated model is defined) is checked here, so ``pretrainlab validate`` reports all errors together.
"""

from __future__ import annotations

from pathlib import Path

from pretrainlab.config.schema import Params


def _model_sizes(params: Params) -> list[str]:
    errors = []
    for name, cell in params.pretrain.cells.items():
        if cell.model not in params.models:
            defined = ", ".join(sorted(params.models))
            errors.append(
                f"pretrain.cells.{name}.model: unknown model size {cell.model!r} (defined: {defined})"
            )
    return errors


def _evaluated_models(params: Params) -> list[str]:
    known = {"pretrain": set(params.pretrain.cells)}
    errors = []
    for name, kind in params.evaluate.models.items():
        if name not in known.get(kind, set()):
            errors.append(f"evaluate.models.{name}: no {kind} model named {name!r} is defined")
    return errors


def _sources(params: Params, base_dir: Path) -> list[str]:
    errors = []
    pretrained = params.tokenizer.pretrained
    if pretrained is not None and not (base_dir / pretrained).is_dir():
        errors.append(f"tokenizer.pretrained: directory {pretrained!r} does not exist")
    return errors


def _cells(params: Params, base_dir: Path) -> list[str]:
    # Imported here: objectives and model sizing pull in numpy/torch, the schema checks above do not.
    from pretrainlab.training.plan import cell_plan_errors

    errors = []
    for name, cell in params.pretrain.cells.items():
        if cell.model not in params.models:
            continue
        errors += [f"pretrain.cells.{name}.{msg}" for msg in cell_plan_errors(params, name, base_dir)]
    return errors


def cross_field_errors(params: Params, base_dir: Path = Path(".")) -> list[str]:
    """Every cross-field problem in ``params`` (an empty list means the study is consistent)."""
    return (
        _model_sizes(params)
        + _evaluated_models(params)
        + _sources(params, base_dir)
        + _cells(params, base_dir)
    )
