"""The trackers ``tracking.sinks`` can name, each a class built from its own options section
(``tracking.<name>``); their libraries are imported when a run starts, not here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pretrainlab.config.schema import TrackingConfig
from pretrainlab.tracking.dvclive_sink import DvcLiveSink
from pretrainlab.tracking.mlflow_sink import MlflowSink
from pretrainlab.tracking.sink import Sink
from pretrainlab.tracking.tensorboard_sink import TensorBoardSink
from pretrainlab.tracking.wandb_sink import WandbSink

SINKS: dict[str, Callable[[Any], Sink]] = {
    "dvclive": DvcLiveSink,
    "tensorboard": TensorBoardSink,
    "mlflow": MlflowSink,
    "wandb": WandbSink,
}


def sinks_of(config: TrackingConfig) -> list[Sink]:
    """A new sink for each name of ``config.sinks``, with its options."""
    return [SINKS[name](getattr(config, name)) for name in config.sinks]
