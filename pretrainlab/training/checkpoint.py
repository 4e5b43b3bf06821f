"""Resumable training state, written atomically, resumed only under the same params fingerprint.

Layout (``root`` is e.g. ``data/checkpoints/pretrain/cd-flm``)::

    root/step-00000100/state.pt        full model and optimizer state dicts (by parameter name), the
                                       scheduler, every rank's torch RNG (tensors only)
    root/step-00000100/trainer.json    step, fingerprint, the log history so far

An FSDP run of several processes writes its state as shards instead (no full gather, see
:mod:`pretrainlab.training.sharded_state`)::

    root/step-00000100/.metadata, __0_0.distcp, __1_0.distcp, ...   each rank's model and optimizer
                                       shards (torch.distributed.checkpoint), readable by any number
                                       of processes
    root/step-00000100/extras.pt       the optimizer's param_groups, the scheduler, every rank's RNG
    root/step-00000100/trainer.json    as above
    root/step-00000100/shards.json     every other file's size, written last: a sharded directory
                                       without it, or whose files differ from it, is never resumed

A step directory appears only by an atomic rename of a finished temporary one, so a checkpoint cut
mid-write is never seen (and a damaged one is skipped for an older one); a checkpoint made with
other params (another fingerprint) is never resumed. ``state.pt`` is read with
``torch.load(weights_only=True)`` (no unpickling of arbitrary objects). The checkpointer knows
nothing of models: it saves state dicts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pretrainlab import atomic
from pretrainlab.atomic import atomic_dir, json_text, remove_dead_temporaries_in

log = logging.getLogger(__name__)
_PREFIX = "step-"
SHARDS_MARKER = "shards.json"
EXTRAS = "extras.pt"


@dataclass
class TrainerState:
    step: int
    fingerprint: str
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checkpoint:
    trainer: TrainerState
    tensors: dict[str, Any]  # "model", "optimizer", "scheduler", "rng"; sharded: no "model", "optimizer"
    shards: Path | None = None  # a sharded checkpoint's folder, which the ranks read their shards from


class Checkpointer:
    def __init__(self, root: Path, fingerprint: str, keep: int = 2, writer: bool = True):
        self.root = Path(root)
        self.fingerprint = fingerprint
        self.keep = keep
        self.writer = writer  # False on ranks other than 0: they read checkpoints, never touch the folder

    def _step_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        dirs = [p for p in self.root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX)]
        return sorted(dirs, key=lambda p: p.name)

    def step_dir(self, step: int) -> Path:
        return self.root / f"{_PREFIX}{step:08d}"

    def save(self, trainer: TrainerState, tensors: dict[str, Any]) -> Path:
        assert self.writer, "only rank 0 writes checkpoints"
        final = self.step_dir(trainer.step)
        with atomic_dir(final) as tmp:
            torch.save(tensors, tmp / "state.pt")
            (tmp / "trainer.json").write_text(json_text(trainer.__dict__, final / "trainer.json"))
        self.prune()
        return final

    def finish_sharded(self, folder: Path, trainer: TrainerState, extras: dict[str, Any]) -> None:
        """Complete a sharded step directory (still a temporary) once every rank wrote its shards:
        ``extras``, ``trainer.json``, then the marker listing every file's size."""
        assert self.writer, "only rank 0 writes checkpoints"
        final = self.step_dir(trainer.step)
        torch.save(extras, folder / EXTRAS)
        (folder / "trainer.json").write_text(json_text(trainer.__dict__, final / "trainer.json"))
        sizes = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
        (folder / SHARDS_MARKER).write_text(json_text(sizes, final / SHARDS_MARKER))

    def prune(self) -> None:
        """Keep the newest ``keep`` step directories."""
        for old in self._step_dirs()[: -self.keep]:
            atomic.remove(old)

    def latest(self) -> Checkpoint | None:
        """The newest complete checkpoint made with this fingerprint, or None (fresh start)."""
        if self.writer:
            remove_dead_temporaries_in(self.root)  # a live writer's (another run) stay
        mismatched = False
        for directory in reversed(self._step_dirs()):
            try:
                trainer = TrainerState(**json.loads((directory / "trainer.json").read_text()))
            except (OSError, ValueError, TypeError) as error:
                log.warning("ignoring unreadable checkpoint %s (%s)", directory, error)
                continue
            if trainer.fingerprint != self.fingerprint:
                # made with other params: never resumed; the writer removes it so that it cannot
                # outrank this run's own checkpoints (pruning keeps the newest step names)
                log.info(
                    "checkpoint %s was made with other params (fingerprint %s, now %s): not resumed%s",
                    directory,
                    trainer.fingerprint[:12],
                    self.fingerprint[:12],
                    ", removed" if self.writer else "",
                )
                mismatched = True
                if self.writer:
                    atomic.remove(directory)
                continue
            sharded = (directory / ".metadata").exists() or (directory / SHARDS_MARKER).exists()
            if sharded and (missing := _incomplete(directory)):
                log.warning("ignoring incomplete sharded checkpoint %s (%s)", directory, missing)
                continue
            try:
                state = directory / (EXTRAS if sharded else "state.pt")
                tensors = torch.load(state, map_location="cpu", weights_only=True)
            except Exception as error:  # a damaged file: fall back to an older checkpoint
                log.warning("ignoring unreadable checkpoint %s (%s)", directory, error)
                continue
            log.info("resuming from %s (step %d%s)", directory, trainer.step, ", sharded" if sharded else "")
            return Checkpoint(trainer, tensors, directory if sharded else None)
        if mismatched:
            log.info("no checkpoint made with these params: starting fresh")
        return None

    def clear(self) -> None:
        """Remove every checkpoint: call only once the cell's outputs are published."""
        atomic.remove(self.root)


def _incomplete(directory: Path) -> str:
    """Why a sharded step directory cannot be resumed ("" when every file its marker lists is there
    with the size it had when written)."""
    try:
        sizes = json.loads((directory / SHARDS_MARKER).read_text())
    except (OSError, ValueError) as error:
        return f"no readable {SHARDS_MARKER}: {error}"
    if not isinstance(sizes, dict) or ".metadata" not in sizes:
        return f"{SHARDS_MARKER} lists no .metadata"
    for name, size in sizes.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != size:
            return f"{name} is missing or not the size it was written with"
    return ""
