"""Weights & Biases: one run named ``<stage>@<name>`` in ``tracking.wandb.project``, grouped by the
study, the config as the run's config, step metrics as its history, the results as its summary.
Offline by default (``<dir>/wandb/offline-run-*``, ``wandb sync`` uploads it later); W&B's console
capture is off, so the stage's output is its own."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pretrainlab.config.schema import WandbOptions

INIT_TIMEOUT_S = 60  # wandb.init gives up after this (an unreachable server in online mode)


class WandbSink:
    name = "wandb"

    def __init__(self, options: WandbOptions):
        self.options = options
        self.run: Any = None

    def start(self, run_name: str, group: str, config: Mapping[str, Any]) -> None:
        os.environ.setdefault("WANDB_SILENT", "true")
        if self.options.mode == "offline":  # nothing leaves the machine, W&B's crash reports neither
            os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        import wandb

        os.makedirs(self.options.dir, exist_ok=True)
        self.run = wandb.init(
            project=self.options.project,
            entity=self.options.entity,
            mode=self.options.mode,
            dir=self.options.dir,
            name=run_name,
            group=group,
            job_type=run_name.split("@")[0],
            config=dict(config),
            reinit="create_new",
            settings=wandb.Settings(console="off", init_timeout=INIT_TIMEOUT_S, silent=True),
        )

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        self.run.summary.update(dict(metrics))

    def finish(self, ok: bool = True) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if ok else 1)
            self.run = None
