"""``pretrainlab flow ...``: run the study (or one stage) as a Prefect flow, deploy it on a cron schedule
to a process work pool, or serve it from this shell.

Exit codes: 0 done; 1 a stage failed (the rest ran; see the summary), or Prefect's temporary server
did not start (:mod:`pipelines.server`); 2 bad input (unknown target, missing or invalid dvc.yaml /
params.yaml, not a DVC repository, bad cron; or every stage that failed refused its input, each one's
line printed); 75 another flow run holds the repository (try again, or
pass ``--wait``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import pipelines  # noqa: F401 - quiet, offline Prefect defaults before prefect is imported
from pipelines.server import PrefectServerUnavailable, start_temporary_server
from pretrainlab.errors import UserInputError

flow_app = typer.Typer(no_args_is_help=True, help="Prefect entry points over the DVC pipeline.")
err = Console(stderr=True)

RepoOption = Annotated[Path, typer.Option("--repo", help="The study's checkout (git + DVC repository).")]
CronOption = Annotated[str, typer.Option("--cron", help='Cron expression, e.g. "0 3 * * *".')]
NameOption = Annotated[str, typer.Option("--name", help="Deployment name.")]
TimezoneOption = Annotated[
    str | None, typer.Option("--timezone", help="IANA timezone of the cron schedule (default UTC).")
]
ParallelOption = Annotated[
    int | None,
    typer.Option("--max-parallel", min=1, help="Stages at once (default: orchestration.max_parallel)."),
]
PublishOption = Annotated[
    bool,
    typer.Option("--commit-and-push", help="After a fully successful run: git commit dvc.lock, dvc push."),
]


def _fail(message: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


@flow_app.command()
def run(
    repo: RepoOption = Path("."),
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="Stage or cell (repeatable); its stale upstream runs too."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rerun the targets (all stages without --target).")
    ] = False,
    max_parallel: ParallelOption = None,
    commit_and_push: PublishOption = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to queue behind another flow run on this repository."),
    ] = 0.0,
) -> None:
    """Run the study flow (every stage), or the stage flow when --target is given."""
    from pipelines.repo_lock import RepositoryBusyError
    from pipelines.study import StagesFailed, plan, stage_flow, study_flow

    try:
        plan(repo, target, max_parallel)  # bad input exits 2 before a flow run exists
        if target and commit_and_push:
            raise UserInputError("--commit-and-push publishes a whole study run; drop --target")
    except UserInputError as error:
        _fail(str(error), error.exit_code)
    try:
        start_temporary_server()  # without PREFECT_API_URL, waited for as long as a slow machine needs
    except PrefectServerUnavailable as error:
        _fail(str(error), error.exit_code)
    common = {
        "repo": str(repo.resolve()),
        "force": force,
        "max_parallel": max_parallel,
        "wait_for_repo": wait,
    }
    if target:
        state = stage_flow(targets=list(target), **common, return_state=True)
    else:
        state = study_flow(**common, commit_and_push=commit_and_push, return_state=True)
    run_id = state.state_details.flow_run_id
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        known = (UserInputError, RepositoryBusyError, StagesFailed)  # each with its exit code
        code = outcome.exit_code if isinstance(outcome, known) else 1
        _fail(f"flow run {run_id} {state.name}: {outcome}", code)
    for result in outcome:
        typer.echo(f"  {result.status:<10} {result.seconds:7.1f} s  {result.stage}")
    typer.echo(f"flow run {run_id}: {state.name}")


@flow_app.command()
def deploy(
    cron: CronOption,
    repo: RepoOption = Path("."),
    name: NameOption = "study",
    pool: Annotated[
        str, typer.Option("--pool", help="Process work pool (created if missing).")
    ] = "pretrainlab",
    timezone: TimezoneOption = None,
    max_parallel: ParallelOption = None,
    commit_and_push: PublishOption = False,
) -> None:
    """Register the study as a cron deployment on a process work pool; a worker runs it:
    `prefect worker start --pool <pool>`."""
    from pipelines.deployments import deploy as register

    try:
        deployment_id = register(
            repo,
            cron,
            name=name,
            work_pool=pool,
            timezone=timezone,
            max_parallel=max_parallel,
            commit_and_push=commit_and_push,
        )
    except (UserInputError, PrefectServerUnavailable) as error:
        _fail(str(error), error.exit_code)
    typer.echo(f"deployment study/{name} ({deployment_id}) on pool {pool!r}, cron {cron!r}")
    typer.echo(f"start a worker:  prefect worker start --pool {pool}")
    typer.echo(f"run it now:      prefect deployment run study/{name}")


@flow_app.command()
def serve(
    cron: CronOption,
    repo: RepoOption = Path("."),
    name: NameOption = "study",
    timezone: TimezoneOption = None,
    max_parallel: ParallelOption = None,
    commit_and_push: PublishOption = False,
) -> None:
    """Serve the study on a cron schedule from this process (no work pool or worker) until Ctrl-C."""
    from pipelines.deployments import serve as serve_study

    try:
        serve_study(
            repo,
            cron,
            name=name,
            timezone=timezone,
            max_parallel=max_parallel,
            commit_and_push=commit_and_push,
        )
    except (UserInputError, PrefectServerUnavailable) as error:
        _fail(str(error), error.exit_code)


if __name__ == "__main__":  # pragma: no cover - `python -m pipelines.cli` before the CLI mounts it
    flow_app()
