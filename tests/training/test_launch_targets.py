"""Where a training stage runs, as the user asks in ``resources``: its nodes (``nnodes``, ``rdzv``)
and SLURM (``launcher: slurm``). Bad requests exit 2 with one line naming the key, before anything
is written; a good multi-node request launches torchrun with the rendezvous."""

from __future__ import annotations

import sys

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.training import launch, slurm
from tests.conftest import SMOKE

PRETRAIN = ["stage", "pretrain", "--cell", "cd-flm"]
RDZV = {"endpoint": "node001:29500", "id": "study-1"}


def _write(tmp_path, monkeypatch, **resources) -> None:
    params = yaml.safe_load(SMOKE.read_text())
    params["resources"].update(resources)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)


def _one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize(
    ("resources", "culprit"),
    [
        ({"nnodes": 0}, "resources.nnodes: Input should be greater than 0"),
        ({"nnodes": 2}, "resources: Value error, rdzv: required with nnodes 2"),
        (
            {"nnodes": 2, "rdzv": {**RDZV, "endpoint": "node001"}},
            "resources.rdzv.endpoint: Value error, 'node001'",
        ),
        ({"nnodes": 2, "rdzv": {**RDZV, "endpoint": "node001:0"}}, "resources.rdzv.endpoint"),
        ({"nnodes": 2, "rdzv": {**RDZV, "endpoint": "a b:29500"}}, "resources.rdzv.endpoint"),
        ({"nnodes": 2, "rdzv": {**RDZV, "id": ""}}, "resources.rdzv.id"),
        ({"launcher": "slurm", "rdzv": RDZV}, "rdzv: leave it out with launcher: slurm"),
        (
            {"launcher": "slurm", "nnodes": 2, "slurm": {"executor": "local"}},
            "slurm.executor: local runs one node",
        ),
        ({"launcher": "sge"}, "resources.launcher"),
        ({"slurm": {"mem": 32}}, "resources.slurm.mem"),
    ],
    ids=[
        "nnodes-0",
        "nnodes-without-rdzv",
        "endpoint-without-port",
        "port-0",
        "endpoint-with-space",
        "empty-id",
        "rdzv-under-slurm",
        "local-executor-two-nodes",
        "unknown-launcher",
        "unknown-slurm-key",
    ],
)
def test_validate_names_the_bad_key(tmp_path, monkeypatch, resources, culprit):
    _write(tmp_path, monkeypatch, **resources)
    result = CliRunner().invoke(app, ["validate", "params.yaml"])
    assert result.exit_code == 2, result.output
    assert culprit in _one_line(result.output)


def test_validate_accepts_a_cluster_study(tmp_path, monkeypatch):
    slurm_section = {"partition": "gpu", "account": "lab", "time_min": 240, "sbatch": {"qos": "high"}}
    _write(tmp_path, monkeypatch, nnodes=4, launcher="slurm", slurm=slurm_section)
    result = CliRunner().invoke(app, ["validate", "params.yaml"])
    assert result.exit_code == 0, result.output


def _run_stage(tmp_path, monkeypatch, **resources):
    _write(tmp_path, monkeypatch, **resources)
    result = CliRunner().invoke(app, PRETRAIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written
    return result


def test_slurm_without_submitit_exits_2_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit -> ImportError
    result = _run_stage(tmp_path, monkeypatch, launcher="slurm")
    assert result.exit_code == 2, result.output
    assert "resources.launcher: slurm needs submitit" in _one_line(result.output)
    assert "pip install 'pretrainlab[slurm]'" in _one_line(result.output)


def test_slurm_without_sbatch_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    result = _run_stage(tmp_path, monkeypatch, launcher="slurm")
    assert result.exit_code == 2, result.output
    assert "sbatch, which is not on PATH" in _one_line(result.output)
    assert "resources.slurm.executor: local" in _one_line(result.output)


def test_two_nodes_launch_torchrun_with_the_rendezvous(tmp_path, monkeypatch):
    """Every node runs the stage under torchrun; the agents meet at rdzv, which gives the node ranks."""
    launched = []
    monkeypatch.setattr(launch, "run_under_torchrun", lambda command: launched.append(command) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    result = _run_stage(tmp_path, monkeypatch, device="cpu", nnodes=2, rdzv=RDZV)
    assert result.exit_code == 0, result.output
    [command] = launched
    assert command[1:3] == ["-m", "torch.distributed.run"]
    assert command[3:8] == [
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=node001:29500",
        "--rdzv_id=study-1",
    ]
    assert command[8:] == [
        "-m",
        "pretrainlab.cli",
        "stage",
        "pretrain",
        "--params",
        "params.yaml",
        "--cell",
        "cd-flm",
    ]


def test_one_node_without_rendezvous_stays_standalone(tmp_path, monkeypatch):
    launched = []
    monkeypatch.setattr(launch, "available_cpus", lambda: 4)
    monkeypatch.setattr(launch, "run_under_torchrun", lambda command: launched.append(command) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    result = _run_stage(tmp_path, monkeypatch, device="cpu", nproc_per_node=2)
    assert result.exit_code == 0, result.output
    assert launched[0][3:5] == ["--standalone", "--nproc_per_node=2"]


def test_a_job_that_did_not_finish_is_one_line_with_exit_1():
    from submitit.core.utils import FailedJobError

    trace = "Traceback (most recent call last):\n  File 'x.py', line 1\nRuntimeError: node lost"
    error = FailedJobError(
        f"Job (task=0) failed during processing with trace:\n{'-' * 22}\n{trace}\n{'-' * 22}\n"
        "You can check full logs with 'job.stderr(0)'"
    )

    class Failed:
        job_id = "123"
        paths = type("Paths", (), {"folder": "/shared/.slurm/pretrain@x"})

        def results(self):
            raise error

    with pytest.raises(slurm.JobError) as info:
        slurm.exit_code_of(Failed())
    assert info.value.exit_code == 1
    assert str(info.value) == (
        "SLURM job 123 did not finish: RuntimeError: node lost; its logs: /shared/.slurm/pretrain@x"
    )
