""":mod:`tiny_cell`, held once at a step until its SLURM job is preempted: the first run to reach step
``HOLD`` (after the checkpoint of step 3) creates ``MARKER``, prints ``holding`` and waits until the job
asks for a checkpoint (the request file appears) or kills it; a run that finds ``MARKER`` (the
requeued one) trains through.

    python tests/training/preempted_cell.py MARKER OUT [tiny_cell's options]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import tiny_cell  # this script's folder is on sys.path

from pretrainlab.training import loop
from pretrainlab.training.launch import die_with_parent
from pretrainlab.training.preemption import REQUEST_ENV

HOLD = 4


def _hold_once(marker: Path) -> None:
    step = loop.Trainer.step

    def held_step(self, batch):
        result = step(self, batch)
        if self.scheduler.last_epoch == HOLD and not marker.exists():
            marker.touch()
            print("holding", flush=True)
            request = Path(os.environ[REQUEST_ENV])  # the job's, created on the preemption signal
            while not request.exists():  # or until the launch tree is killed
                time.sleep(0.002)
        return result

    loop.Trainer.step = held_step  # type: ignore[method-assign]


if __name__ == "__main__":
    die_with_parent()  # a preempted job's launch tree is killed: this worker goes with it
    _hold_once(Path(sys.argv.pop(1)))
    tiny_cell.main()
