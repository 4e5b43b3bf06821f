"""Snapshots at a training stage's declared evaluation points (``eval_at: {tokens: [...]}``).

Each point ``N`` is taken after the whole steps ``N`` tokens pay for — the budget's rule,
:func:`~pretrainlab.training.plan.steps_for`, counted from the stage's first step (an adaptation's
cross-attention warm-up included). A snapshot is the model as ``save_pretrained`` with the tokenizer
and the model card, like the final model, its card adding ``snapshot``: the point asked for, the
step (of the main phase, as the loss curve counts), and the tokens and FLOPs spent so far (the
training metrics' rule: expected data tokens per step times steps).

Where they live (a stage's outputs stay what they were; the model directory holds its snapshots)::

    data/models/<stage>/<name>/snapshots/tokens-<N>/     published with the final model
    data/checkpoints/<stage>/<name>/snapshots/tokens-<N>/   written while training

Kill-safe like the final model: a snapshot is written (atomically) before the checkpoint of the same
step, so a run resumed from a checkpoint has every snapshot up to it, and one killed between a
snapshot and the next checkpoint writes the same bytes again when it gets there (resume is
bit-exact). A fresh start removes what an earlier run left. Publishing copies the snapshots into the
model directory's temporary before its atomic rename (:func:`pretrainlab.training.cell.save_model`),
and the checkpoints, snapshots included, go only once the finished cell is published.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pretrainlab.atomic import remove_dead_temporaries_in
from pretrainlab.config.schema import Budget
from pretrainlab.errors import UserInputError
from pretrainlab.models.load import MODEL_CARD
from pretrainlab.training.plan import CellPlan, steps_for

if TYPE_CHECKING:
    from transformers import PreTrainedModel

SNAPSHOTS = "snapshots"  # the folder, in a model directory and in its checkpoints
CARD_KEY = "snapshot"


@dataclass(frozen=True)
class SnapshotPoint:
    """One declared point and where it falls."""

    eval_at_tokens: int  # as declared
    step: int  # of the main phase: the snapshot follows this step of the training loop
    tokens: int  # data tokens of every step up to it, warm-up included
    flops: float

    @property
    def name(self) -> str:
        return f"tokens-{self.eval_at_tokens}"

    def as_json(self) -> dict[str, Any]:
        return {
            "eval_at_tokens": self.eval_at_tokens,
            "step": self.step,
            "tokens": self.tokens,
            "flops": self.flops,
        }


def snapshot_points(plan: CellPlan, tokens: Sequence[int]) -> tuple[SnapshotPoint, ...]:
    """Where each of ``tokens`` falls in ``plan`` (checked beforehand by
    :func:`pretrainlab.config.budget_checks.eval_at_errors`: each falls on its own main-phase step)."""
    points = []
    for point in tokens:
        steps = steps_for(Budget(tokens=float(point)), plan.tokens_per_step, plan.flops_per_step)
        points.append(
            SnapshotPoint(
                eval_at_tokens=point,
                step=steps - plan.frozen_warmup_steps,
                tokens=round(plan.tokens_per_step * steps),
                flops=plan.flops_per_step * steps,
            )
        )
    return tuple(points)


class SnapshotWriter:
    """Writes the snapshots of one training run into ``root`` (its checkpoint folder's ``snapshots``)."""

    def __init__(
        self, root: Path, points: Sequence[SnapshotPoint], card: dict[str, Any], tokenizer_dir: Path
    ):
        self.root = Path(root)
        self.points = {point.step: point for point in points}
        self.card = card  # the final model's card, fingerprint included
        self.tokenizer_dir = Path(tokenizer_dir)

    @property
    def steps(self) -> frozenset[int]:
        return frozenset(self.points)

    def folders(self) -> list[Path]:
        """Every point's snapshot, in step order (what publishing copies)."""
        return [self.root / self.points[step].name for step in sorted(self.points)]

    def resume_at(self, step: int) -> None:
        """Before training resumes at ``step`` (0: a fresh start): keep the snapshots of this run up to
        ``step``, which must all be there, and remove anything else."""
        if step == 0:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        remove_dead_temporaries_in(self.root)  # a killed writer's; atomic_dir handles its own
        wanted = {point.name: point for point in self.points.values()}
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if folder.name.startswith("."):
                continue
            point = wanted.get(folder.name)
            if (
                point is None
                or point.step > step
                or _card(folder).get("fingerprint") != self.card["fingerprint"]
            ):
                shutil.rmtree(folder, ignore_errors=True)
        missing = [
            p.name for p in self.points.values() if p.step <= step and not (self.root / p.name).is_dir()
        ]
        if missing:
            raise UserInputError(
                f"{self.root}: snapshot(s) {', '.join(missing)} missing, yet training resumes at step {step} "
                f"after them; remove {self.root.parent} to train this cell again from its first step"
            )

    def save(self, step: int, model: PreTrainedModel, state: dict[str, torch.Tensor]) -> Path:
        """The snapshot of ``step`` from the full CPU ``state`` of ``model`` (which stays where it is)."""
        from pretrainlab.training.cell import save_model  # cell imports the loop, which uses this class

        point = self.points[step]
        folder = self.root / point.name
        save_model(model, folder, self.tokenizer_dir, {**self.card, CARD_KEY: point.as_json()}, state)
        return folder


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot: its folder and what its card says."""

    folder: Path
    point: SnapshotPoint
    card: dict[str, Any]


def published_snapshots(model_dir: Path) -> list[Snapshot]:
    """The snapshots kept beside the model in ``model_dir``, in step order (none: an empty list).
    A snapshot folder without a readable card is a :class:`UserInputError` naming it."""
    root = Path(model_dir) / SNAPSHOTS
    snapshots = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        card = _card(folder)
        try:
            point = SnapshotPoint(**card[CARD_KEY])
        except (KeyError, TypeError) as error:
            raise UserInputError(
                f"{folder / MODEL_CARD}: not a snapshot's card (no valid `{CARD_KEY}` entry: {error}); "
                f"rerun the stage that trained {Path(model_dir).name}"
            ) from None
        snapshots.append(Snapshot(folder, point, card))
    return sorted(snapshots, key=lambda s: s.point.step)


def _card(folder: Path) -> dict[str, Any]:
    try:
        card = json.loads((folder / MODEL_CARD).read_text())
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}
