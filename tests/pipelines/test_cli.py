"""Bad input to `pretrainlab flow ...` ends in one clear message and exit code 2, before any flow run."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from pipelines.cli import flow_app
from tests.pipelines.conftest import make_tiny, run

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("cli") / "tiny")


def invoke(*args: str):
    return runner.invoke(flow_app, list(args))


def test_commands_are_run_deploy_serve():
    assert set(typer.main.get_command(flow_app).commands) == {"run", "deploy", "serve"}


def test_unknown_target_stage(project):
    result = invoke("run", "--repo", str(project), "--target", "cell@z")
    assert result.exit_code == 2
    assert "unknown target stage 'cell@z'" in result.output and "cell@a" in result.output


def test_not_a_repository(tmp_path):
    result = invoke("run", "--repo", str(tmp_path))
    assert result.exit_code == 2 and "not a DVC repository" in result.output


def test_missing_and_invalid_dvc_yaml(project, tmp_path):
    copy = tmp_path / "copy"
    run(["cp", "-r", str(project), str(copy)], tmp_path)
    (copy / "dvc.yaml").write_text("stages:\n  prepare:\n    cmd: [unclosed\n")
    result = invoke("run", "--repo", str(copy))
    assert result.exit_code == 2 and "dvc.yaml" in result.output
    (copy / "dvc.yaml").unlink()
    result = invoke("run", "--repo", str(copy))
    assert result.exit_code == 2 and "dvc.yaml: missing" in result.output


def test_invalid_params_and_options(project, tmp_path):
    copy = tmp_path / "copy"
    run(["cp", "-r", str(project), str(copy)], tmp_path)
    (copy / "params.yaml").write_text((copy / "params.yaml").read_text() + "\nunknown_section: 1\n")
    result = invoke("run", "--repo", str(copy))
    assert result.exit_code == 2 and "unknown_section" in result.output
    assert invoke("run", "--repo", str(project), "--max-parallel", "0").exit_code == 2
    result = invoke("run", "--repo", str(project), "--target", "summary", "--commit-and-push")
    assert result.exit_code == 2 and "--commit-and-push" in result.output


@pytest.mark.parametrize("command", ["deploy", "serve"])
def test_bad_cron_and_bad_repository(command, project, tmp_path):
    result = invoke(command, "--cron", "61 * * *", "--repo", str(project))
    assert result.exit_code == 2 and "--cron '61 * * *'" in result.output
    result = invoke(command, "--cron", "0 3 * * *", "--repo", str(tmp_path))
    assert result.exit_code == 2 and "not a DVC repository" in result.output
