"""Run a training stage as a SLURM job through submitit (``resources.launcher: slurm``).

The stage command (what dvc.yaml runs, on a login node or a Prefect worker) submits one job of
``resources.nnodes`` nodes x one task, copies the job's output lines to its own as they come, waits,
and exits with the job's status: DVC still sees one command. On each node the job runs the same stage
under torchrun (:mod:`pretrainlab.training.launch`), the nodes meeting on the allocation's first node;
the job itself publishes the outputs (atomic renames on the shared filesystem), as a local run does.

Preemption and time limits: SLURM signals the job before stopping it (submitit asks for ``USR2``)
and submitit calls :meth:`StageJob.checkpoint`, which asks the workers for a checkpoint now
(:mod:`pretrainlab.training.preemption`): they save the step they are at and stop, and the same job is
requeued and resumes from that step bit for bit, no step trained twice. Without an answer within
60 s (the stage was not training) the job is requeued anyway and resumes from its last checkpoint.

``resources.slurm.executor: local`` hands the job to submitit's local executor instead: a process on
this machine with the same files, logs and requeueing, to try a configuration without a cluster (and
for the tests). A job that fails reaches the stage as one line: the stage's own message and exit code
(2 for bad input), or why the job did not finish and where its logs are (exit 1).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pretrainlab.errors import FAILED_STAGE_EXIT_CODE, UserInputError
from pretrainlab.training.launch import (
    CLI,
    check_world_size,
    die_with_parent,
    node_flags,
    run_under_torchrun,
    torchrun,
)
from pretrainlab.training.preemption import ACK_TIMEOUT_S, REQUEST_ENV, CheckpointRequest

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'pretrainlab[slurm]'"
POLL_SECONDS = 0.5  # how often the stage looks at the job's state and logs


class JobError(UserInputError):
    """The job's failure, reported as one line with its exit code: the stage's own message (exit 2
    for bad input), or why the job did not finish (exit 1)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class JobOutcome:
    """What one node's task returns: the torchrun launch's exit code, and the stage's message if it
    refused its input."""

    returncode: int
    error: str | None = None


@dataclass(frozen=True)
class StageJob:
    """The submitted callable: on each node of the allocation, ``program`` under torchrun with
    ``nproc_per_node`` workers."""

    program: tuple[str, ...]  # what torchrun runs: "-m", "pretrainlab.cli", "stage", ...
    nproc_per_node: int
    device: str
    precision: str
    cwd: str  # the repository, as the stage command saw it

    def __call__(self) -> JobOutcome:
        import submitit

        from pretrainlab.training.device import resolve_runtime

        os.chdir(self.cwd)
        allocation = submitit.JobEnvironment()
        if allocation.cluster == "local":  # cancelling a local job kills its controller: this task goes too
            die_with_parent()
        try:
            check_world_size(self.nproc_per_node, resolve_runtime(self.device, self.precision).device)
            flags = node_flags(self.nproc_per_node, allocation.num_nodes, rendezvous_of(allocation))
            preemption = getattr(signal, f"SIG{submitit.JobEnvironment.USR_SIG}")
            request = preemption_request(allocation)
            if allocation.global_rank == 0:  # a requeued job starts without its answered request
                request.clear()
            os.environ[REQUEST_ENV] = str(request.path)  # for the workers this task launches
            returncode = run_under_torchrun(
                torchrun(flags, list(self.program)), ignored_signals=(preemption,)
            )
        except UserInputError as error:
            return JobOutcome(error.exit_code, str(error))
        return JobOutcome(returncode)

    def checkpoint(self) -> Any:
        """Called by submitit (in its signal handler, on the first node) when the job is preempted or
        times out: ask the workers for a checkpoint now, wait for it, and requeue the same job."""
        import submitit
        from submitit.helpers import DelayedSubmission

        if preemption_request(submitit.JobEnvironment()).ask_and_wait() is None:
            log.warning(
                "no checkpoint within %g s of the preemption signal (not training?): requeued, "
                "resuming from the last checkpoint",
                ACK_TIMEOUT_S,
            )
        return DelayedSubmission(self)


def preemption_request(allocation: Any) -> CheckpointRequest:
    """The job's preemption request, in its submitit folder (shared by its nodes), named by job id."""
    return CheckpointRequest(Path(allocation.paths.folder) / f"{allocation.job_id}_preemption")


def rendezvous_of(allocation: Any) -> Any:
    """Where the nodes of a multi-node job meet: its first node, on a port drawn from the job id
    (two jobs sharing a node use different ports); None for one node (torchrun ``--standalone``)."""
    from pretrainlab.config.schema import RendezvousConfig

    if allocation.num_nodes == 1:
        return None
    port = 20000 + zlib.crc32(allocation.job_id.encode()) % 40000
    return RendezvousConfig(endpoint=f"{allocation.hostnames[0]}:{port}", id=f"slurm-{allocation.job_id}")


# ---------------------------------------------------------------------------------------- submitting
def submit_stage(resources: Any, cli_args: list[str]) -> int:
    """Run ``pretrainlab <cli_args>`` as a SLURM job; its exit code (raises :class:`JobError`)."""

    def option(flag: str) -> str | None:
        return cli_args[cli_args.index(flag) + 1] if flag in cli_args else None

    cell, seed = option("--cell"), option("--seed")
    name = cli_args[1] + (f"@{cell}" if cell else "") + (f"-seed{seed}" if seed is not None else "")
    return submit([*CLI, *cli_args], resources, name)


def submit(program: list[str], resources: Any, name: str) -> int:
    """Run ``program`` (under torchrun, on each node) as the SLURM job ``name``, following it."""
    executor = executor_for(resources, name)
    job = executor.submit(
        StageJob(tuple(program), resources.nproc_per_node, resources.device, resources.precision, os.getcwd())
    )
    log.info("%s: SLURM job %s (files: %s)", name, job.job_id, job.paths.folder)
    with _cancelled_if_interrupted(job, resources.slurm.executor):
        follow(job, sys.stdout, sys.stderr)
    return exit_code_of(job)


def executor_for(resources: Any, name: str) -> Any:
    """submitit's executor for ``resources.slurm``: refuses (exit 2) before anything is written when
    submitit or ``sbatch`` is missing."""
    settings = resources.slurm
    try:
        import submitit
    except ImportError:
        raise UserInputError(
            f"resources.launcher: slurm needs submitit, which is not installed: {INSTALL_HINT}"
        ) from None
    if settings.executor == "slurm" and shutil.which("sbatch") is None:
        raise UserInputError(
            "resources.launcher: slurm submits with sbatch, which is not on PATH: run the stage where "
            "SLURM is (a login node), or set resources.slurm.executor: local to run the job on this machine"
        )
    gpus = settings.gpus_per_node
    if gpus is None:
        gpus = 0 if resources.device == "cpu" else resources.nproc_per_node
    folder = Path(settings.folder) / name  # the jobs of one stage, their files named by job id
    if settings.executor == "local":
        local = submitit.LocalExecutor(folder=folder)
        local.update_parameters(timeout_min=settings.time_min, gpus_per_node=gpus, tasks_per_node=1)
        return local
    executor = submitit.SlurmExecutor(folder=folder)
    optional = {
        "partition": settings.partition,
        "account": settings.account,
        "cpus_per_task": settings.cpus_per_task,
        "mem": f"{settings.mem_gb}GB" if settings.mem_gb else None,
        "constraint": settings.constraint,
        "gpus_per_node": gpus or None,
    }
    executor.update_parameters(
        job_name=name,
        nodes=resources.nnodes,
        ntasks_per_node=1,
        time=settings.time_min,
        additional_parameters=dict(settings.sbatch),
        **{key: value for key, value in optional.items() if value is not None},
    )
    return executor


# ---------------------------------------------------------------------------------------- following
class LogTail:
    """What a job appended to one of its log files since the last look, copied to ``out`` line by line."""

    def __init__(self, path: Path, out: IO[str]):
        self.path, self.out, self.offset = Path(path), out, 0

    def pump(self, final: bool = False) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:  # the job has not started yet
            return
        if not final:
            data = data[: data.rfind(b"\n") + 1]  # whole lines only; the rest next time
        if data:
            self.offset += len(data)
            self.out.write(data.decode(errors="replace"))
            self.out.flush()


def follow(job: Any, stdout: IO[str], stderr: IO[str]) -> None:
    """Copy the job's output (its first task's: rank 0 speaks for the run) until it is done."""
    tails = [LogTail(job.paths.stdout, stdout), LogTail(job.paths.stderr, stderr)]
    while not job.done():
        for tail in tails:
            tail.pump()
        time.sleep(POLL_SECONDS)
    for tail in tails:
        tail.pump(final=True)


def exit_code_of(job: Any) -> int:
    """The job's status as the stage's exit code; raises :class:`JobError` with the stage's message,
    or with why the job did not finish."""
    try:
        outcomes = job.results()
    except Exception as error:  # submitit's FailedJobError (the task raised), UncompletedJobError
        raise JobError(
            f"SLURM job {job.job_id} did not finish: {_why(error)}; its logs: {job.paths.folder}",
            FAILED_STAGE_EXIT_CODE,
        ) from None
    for outcome in outcomes:
        if outcome.error is not None:
            raise JobError(outcome.error, outcome.returncode)
    return next((outcome.returncode for outcome in outcomes if outcome.returncode != 0), 0)


def _why(error: Exception) -> str:
    """One line from submitit's error: the job's state if it never returned, else the exception that
    ended its task (the last line of the traceback between submitit's rules)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    state = [line for line in lines if "(state:" in line]
    rules = [i for i, line in enumerate(lines) if line.startswith("---")]
    if state:
        return state[0]
    if len(rules) >= 2 and rules[1] > rules[0] + 1:
        return lines[rules[1] - 1]
    return lines[0] if lines else type(error).__name__


@contextlib.contextmanager
def _cancelled_if_interrupted(job: Any, executor: str) -> Iterator[None]:
    """Cancel the job when the stage is interrupted (Ctrl-C, or SIGTERM from DVC or Prefect), so that
    no job goes on training and publishing behind a stage that was stopped: ``scancel``, or for a local
    job a SIGKILL to its controller (submitit's SIGINT is lost where SIGINT is ignored, as in a
    background shell job), whose task and launch tree die with it."""

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate) if _main_thread() else None
    try:
        yield
    except BaseException:
        if not job.done():
            log.warning("cancelling SLURM job %s", job.job_id)
            if executor == "local":
                with contextlib.suppress(ProcessLookupError):  # a local job's id: its controller's pid
                    os.kill(int(job.job_id), signal.SIGKILL)
            else:
                job.cancel(check=False)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
