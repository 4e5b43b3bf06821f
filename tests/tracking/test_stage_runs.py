"""What the stages hand their trackers: the stage's params under their params.yaml keys, grouped by the
study; the evaluate stage's run holds each learning-curve point at its training step and its results."""

from __future__ import annotations

import json

import pytest
import yaml

from pretrainlab.config.keys import read
from pretrainlab.config.load import load_params
from pretrainlab.config.schema import TrackingConfig
from pretrainlab.tracking.run import TrackedRun
from stages import evaluate as evaluate_stage
from stages import pretrain as pretrain_stage
from tests.conftest import SMOKE
from tests.evaluation.test_learning_curve import _params, project  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def study():
    return load_params(SMOKE)


def test_a_stage_logs_its_params_under_their_keys_in_the_studys_group(study):
    cell = next(iter(study.pretrain.cells))
    keys = pretrain_stage.study_keys(study, cell)
    run = TrackedRun.of(study, pretrain_stage.Params(**read(study, keys)), keys)
    assert run.group == study.report.title
    assert run.params["pretrain.optimizer.lr"] == study.pretrain.optimizer.lr
    assert run.params[f"pretrain.cells.{cell}.arch"] == study.pretrain.cells[cell].arch
    assert run.params["seed"] == study.seed

    replicate = pretrain_stage.study_keys(study, cell, seed=7)  # its seed comes from --seed
    params = pretrain_stage.Params(**read(study, replicate), seed=7)
    grouped = study.model_copy(update={"tracking": TrackingConfig(group="sweep-3")})
    run = TrackedRun.of(grouped, params, replicate)
    assert (run.group, run.params["seed"]) == ("sweep-3", 7)


def test_evaluate_logs_each_curve_point_at_its_step_and_the_results(project, tmp_path):  # noqa: F811
    tracking = TrackingConfig.model_validate({"sinks": ["dvclive"], "dvclive": {"dir": str(tmp_path)}})
    tracked = TrackedRun(tracking, "tiny study", {"evaluate.items_per_task": 10})
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        evaluate_stage.run("tiny", "pretrain", _params(), "cpu", tracked)
        results = json.loads((project / "metrics" / "evaluate" / "tiny.json").read_text())
    run = tmp_path / "evaluate@tiny"
    curve = (run / "plots" / "metrics" / "val_loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in curve] == ["step", "2", "5", "12"]  # two snapshots, final
    assert json.loads((run / "metrics.json").read_text())["val_loss"] == results["val_loss"]
    config = yaml.safe_load((run / "params.yaml").read_text())
    assert config["evaluate.items_per_task"] == 10 and len(config["fingerprint"]) == 64
