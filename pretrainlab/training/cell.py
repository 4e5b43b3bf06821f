"""A trained cell's artifacts: the HF model directory with its card, metrics JSON and loss-curve CSV,
where they live and how they are published (every training stage; :mod:`pretrainlab.training.job`
trains, only rank 0 publishes).

Publishing order, so that a kill at any moment never leaves a cell that looks finished: an earlier
run's outputs stay in place while this one trains (a run that fails, or is killed, before publishing
leaves them as they were); once training is done, the earlier metrics file (the finished-marker) is
removed first, then the model directory, the loss curve and the metrics file last are each replaced
by an atomic rename — metrics present means the other two are from the same finished run.
Checkpoints are removed only after all three are published, so a kill while publishing resumes from
the last checkpoint and publishes the same bytes again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel

from pretrainlab import atomic, paths
from pretrainlab.atomic import atomic_dir, atomic_file, json_text
from pretrainlab.errors import UserInputError
from pretrainlab.metrics_contract import Environment, LossCurve, TrainingMetrics, read_json
from pretrainlab.models.load import MODEL_CARD
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.loop import LoopResult
from pretrainlab.training.plan import CellPlan
from pretrainlab.training.snapshots import SNAPSHOTS


@dataclass(frozen=True)
class CellOutputs:
    model_dir: Path
    checkpoints: Path
    metrics: Path
    plots: Path

    @classmethod
    def of(cls, stage: str, name: str) -> CellOutputs:
        """The public artifact paths of ``<stage>@<name>`` (README: "Artifacts")."""
        return cls(
            paths.model_dir(stage, name),
            paths.checkpoint_dir(stage, name),
            paths.metrics_file(stage, name),
            paths.plots_file(stage, name),
        )


def source_model(ref: str) -> tuple[Path, dict[str, Any]]:
    """The directory and model card of ``ref`` (``pretrain/<cell>`` or ``adapt/<name>``), which must exist."""
    source_dir = paths.MODELS / ref
    if not (source_dir / MODEL_CARD).is_file():
        raise UserInputError(
            f"{source_dir}: source model not found (run `dvc repro {ref.replace('/', '@')}`)"
        )
    return source_dir, read_card(source_dir)


@dataclass(frozen=True)
class ModelCard:
    """What the project records about a trained model (:data:`MODEL_CARD` beside its weights)."""

    name: str
    kind: str  # the stage that trained it: pretrain, adapt or finetune
    arch: str
    objective: str
    prompt_format: str
    seq_len: int
    tokenizer_sha256: str | None
    source: str | None = None  # the model it continues (``from``: adapt, finetune)
    mixture_examples: int | None = None  # finetune: training examples in the MTF mixture

    def as_json(self, fingerprint: str) -> dict[str, Any]:
        """The card's JSON, ``fingerprint`` (of the params and data that made the model) and the
        software :class:`~pretrainlab.metrics_contract.Environment` included."""
        return {
            "name": self.name,
            "kind": self.kind,
            **({} if self.source is None else {"from": self.source}),
            "arch": self.arch,
            "objective": self.objective,
            "prompt_format": self.prompt_format,
            "seq_len": self.seq_len,
            "tokenizer_sha256": self.tokenizer_sha256,
            **({} if self.mixture_examples is None else {"mixture_examples": self.mixture_examples}),
            "fingerprint": fingerprint,
            "environment": Environment.current().as_json(),  # the lock's hash, torch's and CUDA's versions
        }


def publish(
    model: PreTrainedModel,
    metrics: TrainingMetrics,
    history: list[dict[str, Any]],
    outputs: CellOutputs,
    *,
    tokenizer_dir: Path,
    card: dict[str, Any],
    checkpointer: Checkpointer,
    full_state: dict[str, torch.Tensor] | None = None,
    snapshots: Sequence[Path] = (),
) -> None:
    """Write the finished cell in the order above (rank 0 only), then remove its checkpoints.

    ``snapshots``: folders kept during training (:mod:`pretrainlab.training.snapshots`), published
    inside the model directory."""
    metrics_text = json_text(metrics.as_json(), outputs.metrics)  # a NaN loss: refused, nothing replaced
    atomic.remove(outputs.metrics)  # the earlier run's finished-marker goes first
    save_model(model, outputs.model_dir, tokenizer_dir, card, full_state, snapshots)
    write_curve(outputs.plots, history)
    with atomic_file(outputs.metrics) as handle:  # last: its presence marks a finished cell
        handle.write(metrics_text)
    checkpointer.clear()


def cell_metrics(plan: CellPlan, result: LoopResult, device: str, world_size: int) -> TrainingMetrics:
    """The metrics file's contents: what the budget bought and what the loop measured."""
    return TrainingMetrics.model_validate(
        {**plan.as_metrics(), **_result_metrics(result), "device": device, "world_size": world_size}
    )


def _result_metrics(result: LoopResult) -> dict[str, float | None]:
    return {
        "train_loss": result.final_train_loss,
        "val_loss": result.final_val_loss,
        "tokens_per_second": result.tokens_per_second,
        "train_seconds": result.train_seconds,
        "mfu": result.mfu,  # null off CUDA
    }


def save_model(
    model: PreTrainedModel,
    out_dir: Path,
    tokenizer_dir: Path,
    card: dict[str, Any],
    state_dict: dict[str, torch.Tensor] | None = None,
    snapshots: Sequence[Path] = (),
) -> None:
    """``save_pretrained`` (safetensors) + the tokenizer + the model card, published atomically.

    ``state_dict``: the full weights when ``model`` holds only shards (FSDP), or a copy of them that
    leaves ``model`` on its device; else the model's own. ``snapshots``: folders copied (hard-linked
    where the filesystem allows) into ``snapshots/`` of ``out_dir``, in the same atomic rename.
    """
    with atomic_dir(out_dir) as tmp:
        if state_dict is None:
            model.to(torch.device("cpu")).save_pretrained(tmp, safe_serialization=True)
        else:
            model.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
        for item in Path(tokenizer_dir).iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
        (tmp / MODEL_CARD).write_text(json_text(card, out_dir / MODEL_CARD))
        for folder in snapshots:
            shutil.copytree(folder, tmp / SNAPSHOTS / Path(folder).name, copy_function=_link_or_copy)


def _link_or_copy(source: str, destination: str) -> None:
    """A hard link (a published file is never written in place), or a copy across filesystems."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


# What every consumer of a model reads from its card, and the type it must have.
CARD_FIELDS: dict[str, type] = {"name": str, "kind": str, "arch": str, "objective": str, "seq_len": int}


def read_card(model_dir: Path) -> dict[str, Any]:
    """The model card of ``model_dir``: a JSON object with :data:`CARD_FIELDS`; an empty, truncated or
    edited card is a :class:`UserInputError` naming the file (and the key)."""
    path = Path(model_dir) / MODEL_CARD
    recover = "restore it with `dvc checkout`, or retrain the model (`dvc repro` its training stage)"
    card = read_json(path, "model card", recover)
    if not isinstance(card, dict):
        raise UserInputError(f"{path}: a model card is a JSON object, not {type(card).__name__}; {recover}")
    for key, kind in CARD_FIELDS.items():
        value = card.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            found = "missing" if key not in card else f"{value!r}, not a {kind.__name__}"
            raise UserInputError(f"{path}: `{key}` is {found}; {recover}")
    return card


def write_curve(path: Path, history: list[dict[str, Any]]) -> None:
    """The loss curve (columns :data:`~pretrainlab.metrics_contract.CURVE_FIELDS`), atomically."""
    text = LossCurve.from_history(history).csv_text()
    with atomic_file(path) as handle:
        handle.write(text)
