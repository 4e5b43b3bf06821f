""":mod:`tiny_cell`, held once at a step until it is killed: the first run to reach step ``HOLD``
(after the checkpoint of step 3) creates ``MARKER``, prints ``holding`` and waits for its end
(a preemption); a run that finds ``MARKER`` (the requeued one) trains through.

    python tests/training/preempted_cell.py MARKER OUT [tiny_cell's options]
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import tiny_cell  # this script's folder is on sys.path

from pretrainlab.training import loop
from pretrainlab.training.launch import die_with_parent

HOLD = 4


def _hold_once(marker: Path) -> None:
    step = loop.Trainer.step

    def held_step(self, batch):
        result = step(self, batch)
        if self.scheduler.last_epoch == HOLD and not marker.exists():
            marker.touch()
            print("holding", flush=True)
            threading.Event().wait()  # until the launch tree is killed
        return result

    loop.Trainer.step = held_step  # type: ignore[method-assign]


if __name__ == "__main__":
    die_with_parent()  # a preempted job's launch tree is killed: this worker goes with it
    _hold_once(Path(sys.argv.pop(1)))
    tiny_cell.main()
