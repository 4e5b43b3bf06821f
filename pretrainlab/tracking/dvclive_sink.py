"""DVCLive's files, written without the dvclive package (DVC, a dependency, reads them): in
``<dir>/<stage>@<name>/``, ``metrics.json`` (the latest value of each metric, then the results),
``plots/metrics/<metric>.tsv`` (one row per step), ``params.yaml`` and a ``dvc.yaml`` declaring them,
so ``dvc metrics show``, ``dvc plots show`` and ``dvc exp show`` find them while the stage runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pretrainlab.atomic import atomic_file, write_json
from pretrainlab.config.schema import DvcLiveOptions

METRICS, PLOTS, PARAMS = "metrics.json", Path("plots/metrics"), "params.yaml"


class DvcLiveSink:
    name = "dvclive"

    def __init__(self, options: DvcLiveOptions):
        self.root = Path(options.dir)
        self.folder = self.root
        self.latest: dict[str, float] = {}

    def start(self, run_name: str, group: str, config: Mapping[str, Any]) -> None:
        self.folder = self.root / run_name
        (self.folder / PLOTS).mkdir(parents=True, exist_ok=True)
        for old in (self.folder / PLOTS).rglob("*.tsv"):  # a rerun's curves start over
            old.unlink()
        self._write_text(PARAMS, yaml.safe_dump({"group": group, **config}, sort_keys=False))
        declared = {"metrics": [METRICS], "params": [PARAMS], "plots": [{PLOTS.as_posix(): {"x": "step"}}]}
        self._write_text("dvc.yaml", yaml.safe_dump(declared, sort_keys=False))
        self.latest = {}

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            tsv = self.folder / PLOTS / f"{key}.tsv"  # a name with slashes in subfolders, as DVCLive
            tsv.parent.mkdir(parents=True, exist_ok=True)
            new = not tsv.exists()
            with tsv.open("a") as handle:
                handle.write(f"step\t{key}\n" * new + f"{step}\t{value}\n")
        self.latest.update(metrics, step=step)
        write_json(self.folder / METRICS, self.latest)

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        self.latest.update(metrics)
        write_json(self.folder / METRICS, self.latest)

    def finish(self, ok: bool = True) -> None:
        """Nothing to close: every file was written whole (atomically) by the call that changed it."""

    def _write_text(self, name: str, text: str) -> None:
        with atomic_file(self.folder / name) as handle:
            handle.write(text)
