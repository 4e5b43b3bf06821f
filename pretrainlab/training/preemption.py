"""A checkpoint asked for from outside the training loop: a SLURM job's preemption signal.

The job process names a request file in :data:`REQUEST_ENV` for the workers it launches. When SLURM
signals the job, the job process creates that file (:meth:`CheckpointRequest.ask_and_wait`) and waits
for the acknowledgement beside it. After each step the training loop's ranks look for the file and
agree on it (one collective, paid only where the variable is set); they checkpoint that step, rank 0
acknowledges once the checkpoint is on disk, and the workers stop with :class:`Preempted` (exit code
:data:`PREEMPTED_EXIT_CODE`). The requeued job resumes at the signal's step: no step is trained twice.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from pretrainlab.atomic import atomic_file

REQUEST_ENV = "PRETRAINLAB_PREEMPTION_FILE"  # set for the workers of a SLURM job only
PREEMPTED_EXIT_CODE = 75  # sysexits' EX_TEMPFAIL: the worker stopped to be resumed
ACK_TIMEOUT_S = 60.0  # under submitit's default 90 s between the signal and the end of the job
POLL_S = 0.05


class Preempted(Exception):
    """The workers checkpointed ``step`` on the preemption signal and stop without publishing."""

    def __init__(self, step: int):
        super().__init__(f"checkpointed at step {step} on the preemption signal")
        self.step = step


@dataclass(frozen=True)
class CheckpointRequest:
    """The request file ``path`` (shared by every node of the job) and its acknowledgement beside it."""

    path: Path

    @classmethod
    def from_env(cls) -> CheckpointRequest | None:
        """This worker's request, or None outside a SLURM job (nothing to look for)."""
        path = os.environ.get(REQUEST_ENV)
        return cls(Path(path)) if path else None

    @property
    def acknowledgement(self) -> Path:
        return self.path.with_name(self.path.name + ".done")

    def asked(self) -> bool:
        return self.path.exists()

    def acknowledge(self, step: int) -> None:
        """Rank 0, once the checkpoint of ``step`` is on disk."""
        with atomic_file(self.acknowledgement) as handle:
            handle.write(str(step))

    def ask_and_wait(self, timeout: float = ACK_TIMEOUT_S) -> int | None:
        """Ask for a checkpoint; the step checkpointed, or None if no acknowledgement came within
        ``timeout`` seconds. Polls files only: it runs in a signal handler."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return int(self.acknowledgement.read_text())
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)

    def clear(self) -> None:
        """Forget an earlier request and its answer (a requeued job starts without one)."""
        self.path.unlink(missing_ok=True)
        self.acknowledgement.unlink(missing_ok=True)
