"""Export a trained model (``<stage>/<name>`` under ``data/models/``) as a self-contained directory.

The directory holds what stock transformers needs — ``config.json``, the safetensors weights, the
tokenizer files — plus the project's card (``pretrainlab.json``) and a generated ``README.md`` model
card (:mod:`.model_card`); the training snapshots stay behind. It is written to a temporary sibling
and renamed into place, so a failed export leaves nothing (or the previous export) at ``DIR``; an
existing ``DIR`` is replaced only when asked (``--force``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pretrainlab import paths
from pretrainlab.atomic import atomic_dir
from pretrainlab.errors import UserInputError
from pretrainlab.export.model_card import render
from pretrainlab.models.load import MODEL_CARD

STAGES = ("pretrain", "adapt", "finetune")  # the stages that publish a model
CARD_FILE = "README.md"


def model_location(ref: str, root: Path) -> Path:
    """``data/models/<stage>/<name>`` for ``ref``; UserInputError unless it is a published model."""
    stage, _, name = ref.partition("/")
    if stage not in STAGES or not name:
        raise UserInputError(
            f"{ref!r}: name a model as <stage>/<name> with a stage among {', '.join(STAGES)}"
        )
    model_dir = root / paths.model_dir(stage, name)
    if not (model_dir / MODEL_CARD).is_file() or not (model_dir / "config.json").is_file():
        raise UserInputError(f"{model_dir}: model not found (run `dvc repro {stage}@{name}` first)")
    return model_dir


def export_model(
    ref: str, to: Path, *, force: bool = False, root: Path | None = None, location: str | None = None
) -> Path:
    """Write the export of ``ref`` to ``to`` and return it. ``root`` is the project (cwd by default);
    ``location`` is what the card's usage snippet loads (a Hub repo id; default: ``to``)."""
    root = Path.cwd() if root is None else Path(root)
    to = Path(to)
    model_dir = model_location(ref, root)
    if to.exists() and not force:
        raise UserInputError(f"{to}: already exists; pass --force to replace it")
    if to.resolve() == model_dir.resolve() or model_dir.resolve() in to.resolve().parents:
        raise UserInputError(f"{to}: inside the model it exports ({model_dir}); choose another directory")
    card = render(ref, model_dir, root, location or str(to))  # reads every input before writing
    with atomic_dir(to) as tmp:
        for item in sorted(model_dir.iterdir()):
            if item.is_file() and item.name != CARD_FILE:
                shutil.copy2(item, tmp / item.name)
        (tmp / CARD_FILE).write_text(card)
    return to
