"""``tracking:`` in params.yaml: an unknown tracker or one whose package is missing ends validation and
every stage with exit 2, naming ``tracking.sinks[i]``, before anything is written; and the section is
operational: no stage lists it, so turning a tracker on or off reruns nothing."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from tests.checkout import ROOT
from tests.config.mutated_smoke import write_mutated


def with_sinks(tmp_path, *sinks: str):
    return write_mutated(tmp_path, lambda p: p.update(tracking={"sinks": list(sinks)}))


def test_an_unknown_tracker_is_named_with_the_known_ones(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(with_sinks(tmp_path, "comet"))])
    assert result.exit_code == 2
    assert "tracking.sinks[0]" in result.output
    assert all(name in result.output for name in ("dvclive", "tensorboard", "mlflow", "wandb"))


def test_a_tracker_whose_package_is_missing_is_named_with_its_install_hint(tmp_path, monkeypatch):
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else found(name, *a)
    )
    params = with_sinks(tmp_path, "dvclive", "wandb")
    result = CliRunner().invoke(app, ["validate", str(params)])
    assert result.exit_code == 2
    assert "tracking.sinks[1]" in result.output and "pip install 'pretrainlab[wandb]'" in result.output
    monkeypatch.chdir(tmp_path)  # a stage refuses it too, before writing anything
    before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["stage", "pretrain", "--cell", "cd-flm", "--params", str(params)])
    assert result.exit_code == 2 and "tracking.sinks[1]" in result.output
    assert sorted(tmp_path.rglob("*")) == before


def test_every_tracker_of_the_lock_is_accepted(tmp_path):
    result = CliRunner().invoke(
        app, ["validate", str(with_sinks(tmp_path, "dvclive", "tensorboard", "mlflow", "wandb"))]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("dvc_file", ["dvc.yaml", "inputs/dvc.yaml"])
def test_no_stage_lists_a_tracking_key(dvc_file):
    stages = yaml.safe_load((ROOT / dvc_file).read_text())["stages"]
    keys = [
        key
        for stage in stages.values()
        for key in (stage.get("do", stage).get("params") or stage.get("params") or [])
        if isinstance(key, str)
    ]
    assert keys and not [key for key in keys if key == "tracking" or key.startswith("tracking.")]
