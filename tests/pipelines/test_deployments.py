"""Cron deployments: what `pretrainlab flow deploy` registers reads back with its schedule, and a run
can be created from it without waiting for the clock; prefect.yaml describes a loadable deployment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint
from typer.testing import CliRunner

from pipelines.cli import flow_app
from pipelines.deployments import deploy
from pipelines.study import study_flow
from tests.conftest import ROOT

CRON = "17 3 * * 1-5"


def test_deployment_reads_back_its_cron_and_runs_without_waiting(tiny):
    deployment_id = deploy(tiny, CRON, name="nightly-test", work_pool="pretrainlab-test", timezone="UTC")
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
        assert [s.schedule.cron for s in deployment.schedules] == [CRON]
        assert deployment.schedules[0].schedule.timezone == "UTC" and deployment.schedules[0].active
        assert deployment.work_pool_name == "pretrainlab-test"
        assert client.read_work_pool("pretrainlab-test").type == "process"
        assert deployment.entrypoint == "pipelines.study.study_flow"
        assert deployment.parameters == {"repo": str(tiny.resolve()), "commit_and_push": False}

        flow_run = client.create_flow_run_from_deployment(deployment_id, parameters={"force": True})
        assert flow_run.deployment_id == deployment_id
        assert flow_run.state.is_scheduled()
        assert flow_run.state.state_details.scheduled_time <= datetime.now(timezone.utc) + timedelta(
            seconds=5
        )
        assert flow_run.parameters["force"] is True

    again = deploy(tiny, "0 4 * * *", name="nightly-test", work_pool="pretrainlab-test")
    assert again == deployment_id, "deploying again updates the deployment"


def test_cli_deploy_prints_next_steps(tiny):
    result = CliRunner().invoke(
        flow_app, ["deploy", "--cron", "0 3 * * *", "--repo", str(tiny), "--pool", "cli-pool"]
    )
    assert result.exit_code == 0, result.output
    assert "prefect worker start --pool cli-pool" in result.output


def test_prefect_yaml_describes_a_cron_study_deployment_on_a_process_pool():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    assert load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"])).name == study_flow.name
    (schedule,) = deployment["schedules"]
    assert CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"]).cron == schedule["cron"]
    assert deployment["work_pool"]["name"] and set(deployment["parameters"]) <= {
        "repo",
        "force",
        "max_parallel",
        "commit_and_push",
        "wait_for_repo",
    }
