"""What a stage hands its trackers: the study's ``tracking`` settings, the group its runs share
(``tracking.group``, else ``report.title``: the study's name) and the stage's params under their
params.yaml keys. :meth:`TrackedRun.start` opens the run ``<stage>@<name>`` (rank 0 only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pretrainlab.config.schema import Study, TrackingConfig
from pretrainlab.tracking.provenance import provenance
from pretrainlab.tracking.registry import sinks_of
from pretrainlab.tracking.sink import flat
from pretrainlab.tracking.tracker import Tracker


@dataclass(frozen=True)
class TrackedRun:
    config: TrackingConfig
    group: str
    params: dict[str, Any]  # flat: {"pretrain.optimizer.lr": 0.003, ...}

    @classmethod
    def of(cls, study: Study, params: BaseModel, keys: Mapping[str, str]) -> TrackedRun:
        """A stage's ``params``, each field under the key it is read from (``keys``, the stage's
        ``study_keys``; a field with none, such as a replicate's ``--seed``, under its own name)."""
        values: dict[str, Any] = {}
        for field, value in params.model_dump(mode="json", by_alias=True).items():
            values.update(flat(value, keys.get(field, field)))
        return cls(study.tracking, study.tracking.group or study.report.title, values)

    def start(self, stage: str, name: str, fingerprint: str) -> Tracker:
        """The trackers' run of ``<stage>@<name>``, started (no sinks: a tracker that does nothing);
        its config holds the params, the stage's ``fingerprint``, the git commit and dvc.lock's hash."""
        if not self.config.sinks:
            return Tracker()
        tracker = Tracker(sinks_of(self.config))
        config = {**self.params, "fingerprint": fingerprint, **provenance()}
        tracker.start(f"{stage}@{name}", self.group, config)
        return tracker
