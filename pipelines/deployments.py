"""Cron deployments of the study flow: registered on a ``process`` work pool (a worker runs them), or
served from this process (no work pool, no worker).

The deployment loads the flow by module path (``pipelines.study.study_flow``), so any machine where
pretrainlab is installed can run it; ``repo`` is the checkout the runs work in, as that machine sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.schedules import Cron, Schedule
from pydantic import ValidationError

from pipelines.server import start_temporary_server
from pipelines.study import plan, study_flow
from pretrainlab.errors import UserInputError

DEFAULT_WORK_POOL = "pretrainlab"
DEFAULT_DEPLOYMENT = "study"


def cron_schedule(cron: str, timezone: str | None = None) -> Schedule:
    """Prefect's cron schedule, or :class:`UserInputError` naming what is wrong with the expression."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)  # validates the expression and the timezone now
    except ValidationError as error:
        reasons = "; ".join(e["msg"] for e in error.errors())
        raise UserInputError(f"--cron {cron!r}: {reasons}") from None
    return Cron(cron, timezone=timezone)


def _parameters(repo: Path, max_parallel: int | None, commit_and_push: bool) -> dict[str, Any]:
    plan(repo, None, max_parallel)  # fail now, not at 3 a.m.: the repository, dvc.yaml and params
    parameters: dict[str, Any] = {"repo": str(Path(repo).resolve()), "commit_and_push": commit_and_push}
    if max_parallel is not None:
        parameters["max_parallel"] = max_parallel
    return parameters


def ensure_process_pool(name: str) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
            return True
    if pool.type != "process":
        raise UserInputError(f"work pool {name!r} exists with type {pool.type!r}; the study needs 'process'")
    return False


def deploy(
    repo: Path,
    cron: str,
    *,
    name: str = DEFAULT_DEPLOYMENT,
    work_pool: str = DEFAULT_WORK_POOL,
    timezone: str | None = None,
    max_parallel: int | None = None,
    commit_and_push: bool = False,
) -> UUID:
    """Register (or update) the cron deployment on a ``process`` work pool, creating the pool if needed.

    At most one run of it executes at a time; a run that comes due while one is running waits.
    """
    from prefect.types.entrypoint import EntrypointType

    schedule = cron_schedule(cron, timezone)
    parameters = _parameters(repo, max_parallel, commit_and_push)
    start_temporary_server()  # without PREFECT_API_URL; after the checks, so bad input fails at once
    ensure_process_pool(work_pool)
    deployment = study_flow.to_deployment(
        name=name,
        schedule=schedule,
        parameters=parameters,
        work_pool_name=work_pool,
        concurrency_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
        tags=["pretrainlab"],
        description=f"The pretrainlab study in {parameters['repo']}, on cron {cron!r}.",
    )
    return deployment.apply()


def serve(
    repo: Path,
    cron: str,
    *,
    name: str = DEFAULT_DEPLOYMENT,
    timezone: str | None = None,
    max_parallel: int | None = None,
    commit_and_push: bool = False,
) -> None:
    """Serve the study on ``cron`` from this process until interrupted (runs execute here)."""
    from prefect.types.entrypoint import EntrypointType

    schedule = cron_schedule(cron, timezone)
    parameters = _parameters(repo, max_parallel, commit_and_push)
    start_temporary_server()  # without PREFECT_API_URL; after the checks, so bad input fails at once
    study_flow.serve(
        name=name,
        schedule=schedule,
        parameters=parameters,
        tags=["pretrainlab"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
