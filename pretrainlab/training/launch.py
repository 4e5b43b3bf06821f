"""Run a training stage on ``resources.nproc_per_node`` processes behind one command.

``pretrainlab stage pretrain --cell X`` (what dvc.yaml calls) checks the request, then re-executes
itself as ``python -m torch.distributed.run --standalone --nproc_per_node N -m pretrainlab.cli stage
pretrain --cell X ...`` and waits: DVC still sees one stage and one exit code. The workers carry
:data:`CHILD_ENV`, so they train instead of launching again (so does a run someone started under
``torchrun`` by hand: ``WORLD_SIZE`` is set).

On ``resources.nnodes`` > 1 nodes the same command runs on every node, and torchrun's agents meet at
``resources.rdzv`` (``--nnodes N --rdzv_backend c10d --rdzv_endpoint host:port --rdzv_id ID``): the
rendezvous gives each node its rank, and every rank's place in the global batch is its global
``RANK``. Only global rank 0 writes outputs and checkpoints, and every rank reads the checkpoints, so
the nodes share the repository's filesystem. With ``resources.launcher: slurm`` the stage runs as a
SLURM job instead (:mod:`pretrainlab.training.slurm`), which launches the same way on its nodes.

Bad input inside a worker (out of memory, a batch too small to split) is written by the worker to
``$PRETRAINLAB_ERROR_DIR/rank-<r>.txt``; the launcher re-raises the first one, so the user gets the
same one-line message and exit 2 as in one process, not a torchrun traceback.

Killing the launcher (``kill -9``) kills the launch tree: the torchrun agent and every worker die
with their parent (``PR_SET_PDEATHSIG`` on Linux), so no orphan keeps training and writing
checkpoints while a rerun resumes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pretrainlab.errors import UserInputError

log = logging.getLogger(__name__)

CHILD_ENV = "PRETRAINLAB_DISTRIBUTED_CHILD"  # its value: the launcher's process id
CLI = ["-m", "pretrainlab.cli"]  # what the workers run: the same stage command
ERROR_DIR_ENV = "PRETRAINLAB_ERROR_DIR"
_PR_SET_PDEATHSIG = 1


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_world_size(nproc: int, device: Any) -> None:
    """One process per GPU on CUDA; on CPU at most one per available core (more only oversubscribes)."""
    import torch

    if nproc <= 1:
        return
    if device.type == "cuda":
        visible = torch.cuda.device_count()
        if nproc > visible:
            raise UserInputError(
                f"resources.nproc_per_node: {nproc} processes asked for but only {visible} CUDA GPU(s) are visible"
            )
    elif device.type == "cpu":
        cores = available_cpus()
        if nproc > cores:
            raise UserInputError(
                f"resources.nproc_per_node: {nproc} processes asked for on the CPU but only {cores} core(s) "
                "are available; use at most one process per core"
            )
    else:
        raise UserInputError(
            f"resources.nproc_per_node: {nproc} processes need device cuda or cpu, not {device.type!r}"
        )


def is_worker() -> bool:
    """True inside a distributed worker (ours, or a torchrun someone started by hand)."""
    return CHILD_ENV in os.environ or "WORLD_SIZE" in os.environ


def torchrun_command(nproc: int, cli_args: list[str]) -> list[str]:
    """``pretrainlab <cli_args>`` on ``nproc`` workers of this node alone."""
    return torchrun(node_flags(nproc), [*CLI, *cli_args])


def torchrun(flags: list[str], program: list[str]) -> list[str]:
    """``python -m torch.distributed.run <flags> <program>`` (program: a script and its arguments,
    or ``-m module ...``)."""
    return [sys.executable, "-m", "torch.distributed.run", *flags, *program]


def node_flags(nproc: int, nnodes: int = 1, rdzv: Any = None) -> list[str]:
    """torchrun's flags for ``nproc`` workers on each of ``nnodes`` nodes: ``--standalone`` (one node
    with no rendezvous given), else the rendezvous ``rdzv`` (``backend``, ``endpoint``, ``id``).

    >>> node_flags(2)
    ['--standalone', '--nproc_per_node=2']
    >>> from types import SimpleNamespace as Rdzv
    >>> node_flags(4, 2, Rdzv(backend="c10d", endpoint="node001:29500", id="run7"))  # doctest: +NORMALIZE_WHITESPACE
    ['--nnodes=2', '--nproc_per_node=4', '--rdzv_backend=c10d', '--rdzv_endpoint=node001:29500',
     '--rdzv_id=run7']
    """
    if rdzv is None:
        if nnodes != 1:
            raise ValueError(f"{nnodes} nodes need a rendezvous")
        return ["--standalone", f"--nproc_per_node={nproc}"]
    return [
        f"--nnodes={nnodes}",
        f"--nproc_per_node={nproc}",
        f"--rdzv_backend={rdzv.backend}",
        f"--rdzv_endpoint={rdzv.endpoint}",
        f"--rdzv_id={rdzv.id}",
    ]


def run_under_torchrun(command: list[str], ignored_signals: tuple[int, ...] = ()) -> int:
    """Run a torchrun ``command`` (:func:`torchrun`); return its exit code. The launch tree dies with
    this process and ignores ``ignored_signals`` (the SLURM job's preemption signal is its launcher's).

    Raises the first worker's :class:`UserInputError` message as this process's own.
    """

    def prepare_child() -> None:
        die_with_parent()
        for number in ignored_signals:
            signal.signal(number, signal.SIG_IGN)

    with tempfile.TemporaryDirectory(prefix="pretrainlab-errors-") as errors:
        env = {**os.environ, CHILD_ENV: str(os.getpid()), ERROR_DIR_ENV: errors}
        log.info("launching workers: %s", " ".join(command))
        returncode = subprocess.run(command, env=env, preexec_fn=prepare_child).returncode
        messages = [p.read_text() for p in sorted(Path(errors).glob("rank-*.txt"))]
    if returncode != 0 and messages:
        raise UserInputError(messages[0])
    return returncode


def report_worker_error(error: UserInputError) -> None:
    """In a worker: leave the message for the launcher (no-op elsewhere)."""
    folder = os.environ.get(ERROR_DIR_ENV)
    if folder and os.path.isdir(folder):
        Path(folder, f"rank-{os.environ.get('RANK', '0')}.txt").write_text(str(error))


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - no glibc
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def guard_worker() -> None:
    """In a worker (first thing): die with the torchrun agent, and exit now if the agent or the
    launcher is already gone (killed while this worker was starting)."""
    launcher = os.environ.get(CHILD_ENV, "")
    if not launcher:
        return
    die_with_parent()
    if os.getppid() == 1 or (launcher.isdigit() and not _alive(int(launcher))):
        os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - alive, someone else's
        return True
    return True


def launch_training(resources: Any, cli_args: list[str]) -> int | None:
    """Check ``resources`` (device, precision, process count), then either run the stage on its
    torchrun workers (this node's ``nproc_per_node``, meeting the other nodes' at ``rdzv``) or as a
    SLURM job, and return the exit code; or return None: train here (one process, or this *is* a
    worker)."""
    from pretrainlab.training.device import resolve_runtime
    from pretrainlab.training.distributed import parallelism_of

    parallelism_of(resources)
    if resources.launcher == "slurm" and not is_worker():  # the devices are the job's, not this node's
        from pretrainlab.training.slurm import submit_stage

        return submit_stage(resources, cli_args)
    runtime = resolve_runtime(resources.device, resources.precision)
    if is_worker():
        return None
    check_world_size(resources.nproc_per_node, runtime.device)
    if resources.rdzv is None:  # one node
        if resources.nproc_per_node <= 1:
            return None
        return run_under_torchrun(torchrun_command(resources.nproc_per_node, cli_args))
    flags = node_flags(resources.nproc_per_node, resources.nnodes, resources.rdzv)
    return run_under_torchrun(torchrun(flags, [*CLI, *cli_args]))
