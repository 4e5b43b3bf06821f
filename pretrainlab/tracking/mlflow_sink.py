"""MLflow (``mlflow-skinny``, the client): one run named ``<stage>@<name>`` in the experiment named by
``tracking.mlflow.experiment`` or the group, with the config as params and tags (the git commit in
MLflow's own tag), step metrics, and the other results logged at the last step. A server that does not
answer within seconds fails the run's start (one warning), instead of retrying for minutes."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import Any

from pretrainlab.config.schema import MlflowOptions

HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "5", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
MAX_PARAM_CHARS = 6000  # MLflow's limit on a param's value
BATCH = 100  # params per request (MLflow's limit)


def mlflow_key(key: str) -> str:
    """``key`` as MLflow takes a param or metric name (letters, digits, ``_ - . / `` and space):
    ``corpus.sources[0].kind`` -> ``corpus.sources.0.kind``, ``acc,none`` -> ``acc_none``.

    >>> mlflow_key("corpus.sources[0].kind"), mlflow_key("lm_eval.arc_easy.acc,none")
    ('corpus.sources.0.kind', 'lm_eval.arc_easy.acc_none')
    """
    return re.sub(r"[^\w.\-/ ]", "_", re.sub(r"\[(\d+)\]", r".\1", key))


class MlflowSink:
    name = "mlflow"

    def __init__(self, options: MlflowOptions):
        self.options = options
        self.client: Any = None
        self.run_id = ""
        self.step = 0
        self.stepped: set[str] = set()  # metrics with a history: their last point is their result

    def start(self, run_name: str, group: str, config: Mapping[str, Any]) -> None:
        for key, value in HTTP_SETTINGS.items():  # the user's own settings win
            os.environ.setdefault(key, value)
        from mlflow import MlflowClient
        from mlflow.entities import Param
        from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_RUN_NAME

        self.client = MlflowClient(tracking_uri=self.options.tracking_uri)
        experiment = self._experiment(self.options.experiment or group)
        tags = {MLFLOW_RUN_NAME: run_name, "pretrainlab.group": group}
        if config.get("git_commit"):
            tags[MLFLOW_GIT_COMMIT] = str(config["git_commit"])
        self.run_id = self.client.create_run(experiment, run_name=run_name, tags=tags).info.run_id
        params = [Param(mlflow_key(key), str(value)[:MAX_PARAM_CHARS]) for key, value in config.items()]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH])

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        logged = [Metric(mlflow_key(key), value, now, step) for key, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=logged)
        self.step = step
        self.stepped.update(metrics)

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        """The results MLflow has no history of yet, at the last step (a loss's is its last point)."""
        if new := {key: value for key, value in metrics.items() if key not in self.stepped}:
            self.log_metrics(self.step, new)

    def finish(self, ok: bool = True) -> None:
        if self.run_id:
            self.client.set_terminated(self.run_id, "FINISHED" if ok else "FAILED")

    def _experiment(self, name: str) -> str:
        """The experiment's id, created if new (another stage creating it at the same time is fine)."""
        found = self.client.get_experiment_by_name(name)
        if found is None:
            try:
                return self.client.create_experiment(name)
            except Exception:
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
        return found.experiment_id
