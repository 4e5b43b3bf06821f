"""Load a saved model directory with stock transformers classes, checking it is what we expect.

A truncated or corrupt safetensors file, a checkpoint of another architecture, one whose vocabulary
does not match the tokenizer, weights that do not fill the model exactly (a tensor missing, unexpected or
of another shape: transformers would initialise it afresh and only warn), non-finite weights, or a model
trained with another tokenizer than the data it is about to see is reported as a
:class:`UserInputError` naming the directory — never a stack trace, never a silently wrong evaluation.
No remote code is ever run.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import PreTrainedModel

from pretrainlab.errors import UserInputError
from pretrainlab.models.architectures import ARCHITECTURES


def _config(model_dir: Path) -> dict:
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise UserInputError(f"{model_dir}: not a saved model (no config.json)")
    try:
        return json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise UserInputError(f"{config_file}: unreadable model config ({error})") from error


def _vocab_size(config: dict) -> int | None:
    if "vocab_size" in config:
        return int(config["vocab_size"])
    decoder = config.get("decoder") or {}
    return int(decoder["vocab_size"]) if "vocab_size" in decoder else None


MODEL_CARD = (
    "pretrainlab.json"  # what the project records about a model dir (arch, objective, tokenizer, ...)
)
_LOADING_PROBLEMS = {
    "missing_keys": "missing",
    "unexpected_keys": "unexpected",
    "mismatched_keys": "of the wrong shape",
}


def check_tokenizer_lineage(model_dir: Path, tokenizer_sha256: str) -> None:
    """Refuse a model whose card says it was trained with another tokenizer than ``tokenizer_sha256``.

    The card's ``tokenizer_sha256`` is the sha256 of the ``tokenizer.json`` its training data was encoded
    with; feeding the model ids of another tokenizer runs without error and gives wrong numbers. Models
    without a card (not trained here) are not checked.
    """
    card_file = Path(model_dir) / MODEL_CARD
    if not card_file.is_file():
        return
    try:
        card = json.loads(card_file.read_text())
    except (OSError, ValueError) as error:
        raise UserInputError(f"{card_file}: unreadable model card ({error})") from error
    trained_with = card.get("tokenizer_sha256") if isinstance(card, dict) else None
    if trained_with is not None and trained_with != tokenizer_sha256:
        raise UserInputError(
            f"{model_dir}: trained with tokenizer {str(trained_with)[:12]}, but the data it would be given was "
            f"encoded with tokenizer {tokenizer_sha256[:12]} (the tokenizer changed since this model was "
            "trained: rerun the stages that produce it, e.g. `dvc repro`)"
        )


def _check_weights(model_dir: Path, model: PreTrainedModel, info: dict) -> None:
    problems = []
    for key, what in _LOADING_PROBLEMS.items():
        names = sorted(str(item[0] if isinstance(item, tuple) else item) for item in info.get(key) or ())
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            problems.append(f"{len(names)} weight(s) {what}: {shown}")
    if problems:
        raise UserInputError(
            f"{model_dir}: the checkpoint does not match its architecture ({'; '.join(problems)})"
        )
    with torch.no_grad():
        not_finite = [name for name, tensor in model.state_dict().items() if not torch.isfinite(tensor).all()]
    if not_finite:
        raise UserInputError(f"{model_dir}: non-finite weights (NaN or inf) in {', '.join(not_finite[:3])}")


def load_pretrained(
    model_dir: Path, arch: str, vocab_size: int | None = None, *, tokenizer_sha256: str | None = None
) -> PreTrainedModel:
    """``Auto*.from_pretrained(model_dir)`` in float32 after checking architecture and vocabulary; the
    weights must fill the model exactly and be finite; with ``tokenizer_sha256``, the model must have been
    trained with that tokenizer (:func:`check_tokenizer_lineage`)."""
    model_dir = Path(model_dir)
    config = _config(model_dir)
    spec = ARCHITECTURES.get(arch)
    if spec is None:
        raise UserInputError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    expected = spec.model_type
    if config.get("model_type") != expected:
        raise UserInputError(
            f"{model_dir}: holds a {config.get('model_type')!r} checkpoint, but {arch} needs {expected!r}"
        )
    found = _vocab_size(config)
    if vocab_size is not None and found is not None and found != vocab_size:
        raise UserInputError(f"{model_dir}: vocabulary of {found} tokens, but the tokenizer has {vocab_size}")
    if tokenizer_sha256 is not None:
        check_tokenizer_lineage(model_dir, tokenizer_sha256)
    try:
        model, info = spec.auto_class.from_pretrained(
            model_dir, dtype=torch.float32, trust_remote_code=False, output_loading_info=True
        )
    except Exception as error:  # safetensors, OSError, shape mismatches: all mean a damaged checkpoint
        raise UserInputError(
            f"{model_dir}: cannot load the checkpoint ({type(error).__name__}: {error})"
        ) from error
    _check_weights(model_dir, model, info)
    return model
