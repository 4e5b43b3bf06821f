"""Training as a SLURM job (``resources.launcher: slurm``), with submitit's local executor
(``resources.slurm.executor: local``: the job is a process here, with submitit's files, logs and
requeueing): a submitted cell ends with the weights of a local run and streams the job's lines; a job
preempted mid-run checkpoints the step it is at, is requeued, resumes from that step and ends with the
weights of an uninterrupted run; a stage whose job refuses its input exits 2 with the stage's one-line
message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

from pretrainlab.config.schema import ResourcesConfig, SlurmConfig
from pretrainlab.training import slurm
from tests.conftest import SMOKE
from tests.training import tiny_cell

pytestmark = pytest.mark.slow

STEPS = 12  # tiny_cell checkpoints every 3 steps
HERE = Path(__file__).parent


def _resources(jobs: Path) -> ResourcesConfig:
    return ResourcesConfig(
        device="cpu",
        precision="fp32",
        launcher="slurm",
        slurm=SlurmConfig(executor="local", folder=str(jobs)),
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "cell"
    tiny_cell.run(out, steps=STEPS)
    return out


def _submit_command(program: list[str], jobs: Path) -> list[str]:
    """The submitting side in a process of its own, as the stage command runs it."""
    code = (
        "import sys; from pretrainlab.config.schema import ResourcesConfig, SlurmConfig; "
        "from pretrainlab.training import slurm; "
        f"resources = ResourcesConfig(device='cpu', precision='fp32', launcher='slurm', "
        f"slurm=SlurmConfig(executor='local', folder={str(jobs)!r})); "
        f"sys.exit(slurm.submit({program!r}, resources, 'cell'))"
    )
    return [sys.executable, "-c", code]


def test_a_submitted_cell_trains_as_a_local_one(tmp_path, reference, capfd):
    out = tmp_path / "cell"
    returncode = slurm.submit(
        [tiny_cell.__file__, str(out), "--steps", str(STEPS)], _resources(tmp_path / "jobs"), "cell"
    )
    assert returncode == 0
    streamed = [line for line in capfd.readouterr().out.splitlines() if line.startswith("step ")]
    assert streamed == [f"step {step}" for step in range(1, STEPS + 1)]  # the job's lines, in the stage's
    tiny_cell.assert_same_run(out, reference)
    assert not (out / "checkpoints").exists()


def test_a_preempted_job_checkpoints_at_the_signal_and_ends_as_an_uninterrupted_run(tmp_path, reference):
    out, marker, jobs = tmp_path / "cell", tmp_path / "held", tmp_path / "jobs"
    program = [str(HERE / "preempted_cell.py"), str(marker), str(out), "--steps", str(STEPS)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    stage = subprocess.Popen(
        _submit_command(program, jobs), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert stage.stdout is not None
    lines = []
    for line in stage.stdout:  # the job's lines, streamed by the stage
        lines.append(line.strip())
        if line.strip() == "holding":  # step 4 trained, the checkpoint of step 3 on disk
            [submitted] = (jobs / "cell").glob("*_submitted.pkl")
            controller = psutil.Process(int(submitted.name.split("_")[0]))  # the local job's id: its pid
            [task] = controller.children()
            task.send_signal(signal.SIGUSR2)  # what SLURM sends before preempting or timing out a job
            break
    rest, stderr = stage.communicate(timeout=600)
    lines += rest.split("\n")
    assert stage.returncode == 0, stderr[-3000:]
    assert any("Requeued job" in line for line in lines), stderr[-3000:]  # submitit's, from the job's log
    assert "checkpointed at step 4 on the preemption signal" in stderr.splitlines()
    assert [line for line in stderr.splitlines() if line.startswith("resuming from")][-1].endswith("(step 4)")
    steps = [int(line.split()[1]) for line in lines if line.startswith("step ")]
    assert steps == list(range(1, STEPS + 1))  # 1-4, then 5-12: resumed at the signal's step 4, not at 3
    tiny_cell.assert_same_run(out, reference)


def test_a_job_that_refuses_its_input_fails_the_stage_in_one_line(tmp_path):
    """The stage's own message from inside the job (here: no tokenizer, the upstream stage never ran)."""
    params = yaml.safe_load(SMOKE.read_text())
    params["resources"].update(device="cpu", launcher="slurm", slurm={"executor": "local", "folder": "jobs"})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "pretrainlab.cli", "stage", "pretrain", "--cell", "cd-flm"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert (
        result.stderr.strip().splitlines()[-1] == "error: data/tokenizer: tokenizer directory does not exist"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs", "params.yaml"]  # the job's logs, no output


def test_stopping_the_stage_cancels_its_job(tmp_path):
    """SIGTERM on the stage (DVC or Prefect stopping it): the job goes too, nothing trains on behind it."""
    out, marker, jobs = tmp_path / "cell", tmp_path / "held", tmp_path / "jobs"
    program = [str(HERE / "preempted_cell.py"), str(marker), str(out), "--steps", str(STEPS)]
    stage = subprocess.Popen(
        _submit_command(program, jobs), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert stage.stdout is not None
    for line in stage.stdout:
        if line.strip() == "holding":
            [submitted] = (jobs / "cell").glob("*_submitted.pkl")
            job = psutil.Process(int(submitted.name.split("_")[0]))
            tree = [job, *job.children(recursive=True)]  # the job, its task, torchrun and the worker
            stage.send_signal(signal.SIGTERM)
            break
    stage.communicate(timeout=600)
    assert stage.returncode == 128 + signal.SIGTERM
    _, alive = psutil.wait_procs(tree, timeout=60)
    assert [process for process in alive if _running(process)] == []
    assert not (out / "model").exists()


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (one whose parent died is reaped by init, or not in some containers)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
