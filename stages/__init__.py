"""One thin module per DVC stage (see dvc.yaml); each ``main()`` first calls :func:`check_environment`."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pretrainlab.errors import UserInputError
from pretrainlab.training.launch import CHILD_ENV, ERROR_DIR_ENV

# What torchrun gives each worker, and what the project's launcher gives its own workers; left in a
# shell (copied from a job script, an interrupted session), they would make a plain run train as one
# rank of a world that never forms, or exit at once as the worker of a launcher that is gone.
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", CHILD_ENV, ERROR_DIR_ENV)
TORCHRUN_WORKER_MARK = "TORCHELASTIC_RUN_ID"  # set by torchrun's agent in every worker it starts


def check_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to run a stage outside torchrun with a launcher's rank variables set (exit 2, naming
    the variable): the project's own workers and a hand-started ``torchrun`` are torchrun's children."""
    if TORCHRUN_WORKER_MARK in environ:
        return
    for name in LAUNCHER_VARIABLES:
        if name in environ:
            raise UserInputError(
                f"environment variable {name}={environ[name]} is set, but this process was not started "
                f"by torchrun (a launcher's environment left in the shell?): unset {name} "
                f"({', '.join(LAUNCHER_VARIABLES)}) and rerun; resources.nproc_per_node sets the processes"
            )
