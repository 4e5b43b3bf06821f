"""A tiny training run logged to all four trackers, each read back with its own reader; a run whose
trackers fail (an unreachable MLflow server, a TensorBoard folder that cannot be made) warns once per
tracker and trains the same weights as a run without any."""

from __future__ import annotations

import csv
import logging
import socket
import subprocess
from pathlib import Path

import pytest

from pretrainlab.config.schema import TrackingConfig
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.training import loop
from tests.tracking.wandb_offline import offline_run
from tests.training import tiny_cell

GROUP, RUN = "tiny study", "pretrain@tiny"  # tiny_cell's card: stage pretrain, name tiny
PARAMS = {"pretrain.seq_len": 32, "pretrain.optimizer.lr": 0.01, "evaluate.tasks[0]": "nli.fact"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def train(out: Path, tracking: TrackingConfig | None) -> Path:
    """tiny_cell's run into ``out`` (logged to ``tracking``'s sinks, if any); its folder."""
    tracked = None if tracking is None else TrackedRun(tracking, GROUP, PARAMS)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(out.parent)  # a stage's working directory: its provenance reads ./dvc.lock and git
        tiny_cell.run(out, tracked=tracked)
    return out


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs of the same cell: untracked, tracked by every sink, and with failing sinks."""
    from dvc.repo import Repo

    tmp = tmp_path_factory.mktemp("tracking")
    project = tmp / "project"  # a git and DVC project, as a study is: `dvc plots show` looks here
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    Repo.init(project).close()
    every = TrackingConfig.model_validate(
        {
            "sinks": ["dvclive", "tensorboard", "mlflow", "wandb"],
            "dvclive": {"dir": str(project / "dvclive")},
            "tensorboard": {"dir": str(tmp / "tensorboard")},
            "mlflow": {"tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}"},
            "wandb": {"dir": str(tmp), "project": "tiny"},
        }
    )
    (tmp / "a-file").write_text("not a folder")
    failing = TrackingConfig.model_validate(
        {
            "sinks": ["mlflow", "tensorboard", "dvclive"],
            "mlflow": {"tracking_uri": f"http://127.0.0.1:{closed_port()}"},
            "tensorboard": {"dir": str(tmp / "a-file" / "tensorboard")},
            "dvclive": {"dir": str(tmp / "failing-dvclive")},
        }
    )
    warnings = Warnings()
    logging.getLogger("pretrainlab.tracking").addHandler(warnings)
    try:
        plain = train(tmp / "plain", None)
        tracked = train(tmp / "tracked", every)
        failed = train(tmp / "failed", failing)
    finally:
        logging.getLogger("pretrainlab.tracking").removeHandler(warnings)
    return {
        "tmp": tmp,
        "project": project,
        "plain": plain,
        "tracked": tracked,
        "failed": failed,
        "warnings": warnings.lines,
    }


def curve(run: Path) -> list[dict[str, float]]:
    """The loss curve the stage published (plots/<stage>/<name>.csv), as numbers."""
    with (run / "curve.csv").open() as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def weights(run: Path) -> bytes:
    return (run / "model" / "model.safetensors").read_bytes()


def test_trackers_change_nothing_the_stage_publishes(runs):
    assert weights(runs["tracked"]) == weights(runs["plain"])
    assert curve(runs["tracked"])[-1]["train_loss"] == curve(runs["plain"])[-1]["train_loss"]


def test_tensorboard_event_files_hold_the_loss_curve(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs["tmp"] / "tensorboard" / GROUP / RUN))
    events.Reload()
    rows = curve(runs["tracked"])
    for metric in ("train_loss", "val_loss", "lr"):
        logged = [(e.step, e.value) for e in events.Scalars(metric)]
        assert logged == [(int(r["step"]), pytest.approx(r[metric], rel=1e-6)) for r in rows]
    assert [e.step for e in events.Scalars("tokens_per_second")] == [int(r["step"]) for r in rows]
    (final,) = events.Scalars("summary/val_loss")
    assert final.value == pytest.approx(rows[-1]["val_loss"], rel=1e-6)


def test_mlflow_run_holds_params_provenance_curve_and_results(runs):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{runs['tmp'] / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(GROUP)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == RUN and run.info.status == "FINISHED"
    assert run.data.params["pretrain.seq_len"] == "32"
    assert run.data.params["fingerprint"] == "fp"  # tiny_cell's job fingerprint
    assert run.data.params["evaluate.tasks.0"] == "nli.fact"  # as MLflow spells a list's item
    history = client.get_metric_history(run.info.run_id, "train_loss")
    rows = curve(runs["tracked"])
    assert [(m.step, m.value) for m in history] == [(int(r["step"]), r["train_loss"]) for r in rows]
    assert run.data.metrics["val_loss"] == rows[-1]["val_loss"]
    assert run.data.metrics["parameters"] > 0  # the metrics file's numbers, as the run's results


def test_wandb_offline_run_holds_config_history_and_summary(runs):
    run = offline_run(runs["tmp"])
    assert (run["name"], run["group"]) == (RUN, GROUP)
    assert run["config"]["pretrain.optimizer.lr"] == 0.01 and run["config"]["fingerprint"] == "fp"
    rows = curve(runs["tracked"])
    assert [(h["_step"], h["train_loss"]) for h in run["history"]] == [
        (int(r["step"]), r["train_loss"]) for r in rows
    ]
    assert run["summary"]["val_loss"] == rows[-1]["val_loss"]


def test_dvclive_files_are_what_dvc_plots_and_metrics_show(runs):
    from dvc.repo import Repo

    folder = f"dvclive/{RUN}"
    rows = curve(runs["tracked"])
    with Repo(runs["project"]) as repo:
        plots = repo.plots.show()["workspace"]["sources"]["data"]
        metrics = repo.metrics.show()[""]["data"][f"{folder}/metrics.json"]["data"]
    shown = plots[f"{folder}/plots/metrics/train_loss.tsv"]["data"]
    assert [(int(p["step"]), float(p["train_loss"])) for p in shown] == [
        (int(r["step"]), r["train_loss"]) for r in rows
    ]
    assert metrics["val_loss"] == rows[-1]["val_loss"] and metrics["step"] == rows[-1]["step"]


def test_a_failing_tracker_warns_once_and_the_stage_trains_the_same_weights(runs):
    warned = runs["warnings"]
    assert len([line for line in warned if line.startswith("tracking: mlflow failed")]) == 1, warned
    assert len([line for line in warned if line.startswith("tracking: tensorboard failed")]) == 1, warned
    assert len(warned) == 2, warned  # the working trackers never warn
    assert weights(runs["failed"]) == weights(runs["plain"])
    assert (runs["failed"] / "metrics.json").is_file()  # published: the stage finished
    tsv = runs["tmp"] / "failing-dvclive" / RUN / "plots" / "metrics" / "train_loss.tsv"
    assert len(tsv.read_text().splitlines()) == 1 + len(curve(runs["failed"]))  # header + every row


def test_a_resumed_stage_logs_the_whole_curve(runs, tmp_path):
    tracking = TrackingConfig.model_validate(
        {"sinks": ["dvclive"], "dvclive": {"dir": str(tmp_path / "live")}}
    )
    step = loop.Trainer.step

    def interrupted(self, batch):  # killed after the checkpoint of step 6 (tiny_cell: every 3 steps)
        if self.scheduler.last_epoch == 7:
            raise KeyboardInterrupt
        return step(self, batch)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(loop.Trainer, "step", interrupted)
        train(tmp_path / "cell", tracking)
    resumed = train(tmp_path / "cell", tracking)
    tsv = (tmp_path / "live" / RUN / "plots" / "metrics" / "train_loss.tsv").read_text().splitlines()
    rows = curve(runs["plain"])
    assert [tuple(map(float, line.split("\t"))) for line in tsv[1:]] == [
        (r["step"], r["train_loss"]) for r in rows
    ]
    assert weights(resumed) == weights(runs["plain"])
