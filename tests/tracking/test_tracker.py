"""The fan-out every stage logs through: a tracker that raises is dropped after one warning, one that
hangs never holds the step loop, and the run's provenance is the checkout's."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading
from typing import get_args

import pytest

from pretrainlab.config.schema import SinkName
from pretrainlab.tracking.provenance import provenance
from pretrainlab.tracking.registry import SINKS
from pretrainlab.tracking.tracker import Tracker


class Recording:
    """A sink that keeps every call; ``fail_on`` makes that call raise (once, as a broken disk would)."""

    def __init__(self, name: str, fail_on: str | None = None):
        self.name, self.fail_on, self.calls = name, fail_on, []

    def _call(self, method: str, *args) -> None:
        self.calls.append((method, *args))
        if method == self.fail_on:
            raise OSError(28, "No space left on device")

    def start(self, run_name, group, config):
        self._call("start", run_name)

    def log_metrics(self, step, metrics):
        self._call("log_metrics", step, dict(metrics))

    def log_summary(self, metrics):
        self._call("log_summary", dict(metrics))

    def finish(self, ok=True):
        self._call("finish", ok)


def test_a_tracker_that_fails_warns_once_and_is_dropped_the_others_get_everything(caplog):
    broken, healthy = Recording("wandb", fail_on="log_metrics"), Recording("dvclive")
    with caplog.at_level(logging.WARNING), Tracker([broken, healthy]) as tracker:
        tracker.start("pretrain@cd-flm", "study", {})
        for step in range(1, 4):
            tracker.log_metrics(step, {"train_loss": 1.0 / step, "val_loss": None, "mfu": float("nan")})
        tracker.log_summary({"val_loss": 0.5, "tasks": {"a": {"accuracy": 0.25}}, "device": "cpu"})
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("tracking: wandb failed in log_metrics"), warnings
    assert broken.calls == [
        ("start", "pretrain@cd-flm"),
        ("log_metrics", 1, {"train_loss": 1.0}),
        ("finish", False),
    ]
    assert healthy.calls == [
        ("start", "pretrain@cd-flm"),
        ("log_metrics", 1, {"train_loss": 1.0}),
        ("log_metrics", 2, {"train_loss": 0.5}),
        ("log_metrics", 3, {"train_loss": 1 / 3}),
        ("log_summary", {"val_loss": 0.5, "tasks.a.accuracy": 0.25}),  # numbers only, flattened
        ("finish", True),
    ]


def test_a_hanging_tracker_never_holds_the_loop_and_the_stage_ends_after_the_finish_timeout(caplog):
    release = threading.Event()

    class Hanging(Recording):
        def log_metrics(self, step, metrics):  # a server that stopped answering
            super().log_metrics(step, metrics)
            release.wait()

    hanging = Hanging("mlflow")
    tracker = Tracker([hanging])
    tracker.start("pretrain@cd-flm", "study", {})
    for step in range(1, 1001):  # returns while the sink is stuck in its first call
        tracker.log_metrics(step, {"train_loss": 1.0})
    with caplog.at_level(logging.WARNING):
        tracker.finish(timeout=0.2)
    assert [call[:2] for call in hanging.calls] == [("start", "pretrain@cd-flm"), ("log_metrics", 1)]
    assert [r.getMessage() for r in caplog.records] == [
        "tracking: mlflow did not finish within 0.2 s; its run may be incomplete"
    ]
    release.set()


def test_without_sinks_a_tracker_starts_no_thread():
    before = threading.active_count()
    with Tracker() as tracker:
        tracker.start("pretrain@cd-flm", "study", {})
        tracker.log_metrics(1, {"train_loss": 1.0})
        assert threading.active_count() == before


def test_every_name_the_schema_accepts_is_a_tracker():
    assert set(SINKS) == set(get_args(SinkName))


def test_provenance_is_the_checkouts_commit_and_the_hash_of_dvc_lock(tmp_path):
    assert provenance(tmp_path) == {}  # no git, no dvc.lock: nothing made up
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    subprocess.run([*git, "-C", str(tmp_path), "add", "dvc.lock"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "lock"], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert provenance(tmp_path) == {
        "git_commit": head,
        "dvc_lock_sha256": hashlib.sha256((tmp_path / "dvc.lock").read_bytes()).hexdigest(),
    }


@pytest.mark.parametrize("value", [{"train_loss": True}, {"train_loss": "1.0"}, {}])
def test_nothing_that_is_not_a_number_is_logged(value):
    sink = Recording("tensorboard")
    with Tracker([sink]) as tracker:
        tracker.log_metrics(1, value)
    assert [call[0] for call in sink.calls] == ["finish"]
