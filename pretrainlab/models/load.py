"""Load a saved model directory with stock transformers classes, checking it is what we expect.

A truncated or corrupt safetensors file, a checkpoint of another architecture, or one whose
vocabulary does not match the tokenizer is reported as a :class:`UserInputError` naming the
directory — never a stack trace, never a silently wrong evaluation. No remote code is ever run.
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


def load_pretrained(model_dir: Path, arch: str, vocab_size: int | None = None) -> PreTrainedModel:
    """``Auto*.from_pretrained(model_dir)`` in float32 after checking architecture and vocabulary."""
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
    try:
        return spec.auto_class.from_pretrained(model_dir, dtype=torch.float32, trust_remote_code=False)
    except Exception as error:  # safetensors, OSError, shape mismatches: all mean a damaged checkpoint
        raise UserInputError(
            f"{model_dir}: cannot load the checkpoint ({type(error).__name__}: {error})"
        ) from error
