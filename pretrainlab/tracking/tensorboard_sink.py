"""TensorBoard event files (``torch.utils.tensorboard``, the ``tensorboard`` package): one run folder per
stage run, ``<dir>/<group>/<stage>@<name>``, so ``tensorboard --logdir <dir>`` lists a study's runs
together. Step metrics as scalars, the results as ``summary/<metric>``, the config as text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pretrainlab.config.schema import TensorBoardOptions

FLUSH_SECONDS = 30  # how stale a live TensorBoard may be


class TensorBoardSink:
    name = "tensorboard"

    def __init__(self, options: TensorBoardOptions):
        self.root = Path(options.dir)
        self.writer: Any = None
        self.step = 0

    def start(self, run_name: str, group: str, config: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = self.root / group.replace("/", "-") / run_name
        self.writer = SummaryWriter(log_dir=str(folder), flush_secs=FLUSH_SECONDS)
        table = "\n".join(f"| {key} | {value} |" for key, value in config.items())
        self.writer.add_text("config", f"| key | value |\n|---|---|\n{table}")

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.step = step

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"summary/{key}", value, self.step)

    def finish(self, ok: bool = True) -> None:
        if self.writer is not None:
            self.writer.close()
