"""The Prefect flows: ``study`` runs every stage of dvc.yaml, ``stage`` runs targets plus stale upstream.

Each stage is one Prefect task that calls ``dvc repro -s <stage>``: DVC decides whether it is stale
and records ``dvc.lock``, so Prefect's own task cache is off (``NO_CACHE``) — two caches would disagree.
The flow walks DVC's graph upstream first and keeps at most ``max_parallel`` stages in flight
(``orchestration.max_parallel`` in params.yaml unless the run overrides it), so independent grid cells
train side by side. A failed stage skips only its downstream; independent cells carry on. The run ends
with a markdown artifact (key ``study-summary`` / ``stage-summary``) and fails if any stage failed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run, task_run
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from pipelines import summary
from pipelines.dag import StageGraph, read_graph
from pipelines.publish import check_publishable, commit_and_push
from pipelines.repo_lock import RepositoryBusyError, hold_repository
from pipelines.repro import (
    FAILED,
    RAN,
    RESTORED,
    SKIPPED,
    UP_TO_DATE,
    StageError,
    StageResult,
    TransientStageError,
    bad_input,
    repro,
    stale_stages,
)
from pretrainlab.config.load import load_params
from pretrainlab.errors import UserInputError

RETRIES = 3
RETRY_BACKOFF_SECONDS = 10  # waits 10, 20, 40 s (±50% jitter) between attempts


class StagesFailed(RuntimeError):
    """At least one stage failed; the others ran (or were skipped as its downstream)."""

    exit_code = 1


class StagesRefusedInput(StagesFailed):
    """Every stage that failed refused its input (exit code 2): the message is their one-line errors."""

    exit_code = 2


def _retry_if_transient(task, task_run, state) -> bool:  # noqa: ARG001 - Prefect's signature
    return isinstance(state.data, TransientStageError)


@task(
    name="dvc-repro",
    task_run_name="{stage}",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF_SECONDS),
    retry_jitter_factor=0.5,
    retry_condition_fn=_retry_if_transient,
)
def repro_stage(repo: str, stage: str, force: bool = False) -> StageResult:
    """``dvc repro -s [-f] <stage>``; DVC's output goes to the task's log."""
    try:
        result = repro(Path(repo), stage, force=force, log=get_run_logger())
    except StageError as error:
        error.attempts = task_run.run_count
        raise
    return dataclasses.replace(result, attempts=task_run.run_count)


def plan(
    repo: str | Path, targets: list[str] | None, max_parallel: int | None
) -> tuple[StageGraph, tuple[str, ...], int]:
    """Validate everything a run needs before it starts; bad input raises :class:`UserInputError`."""
    graph = read_graph(Path(repo))
    selected = graph.select(targets)
    if max_parallel is None:
        max_parallel = load_params(graph.repo / "params.yaml").orchestration.max_parallel
    elif max_parallel < 1:
        raise UserInputError(f"max_parallel must be at least 1, got {max_parallel}")
    return graph, selected, max_parallel


def run_stages(
    graph: StageGraph,
    selected: tuple[str, ...],
    forced: frozenset[str],
    max_parallel: int,
    status: Callable[[], frozenset[str] | None] | None = None,
) -> list[StageResult]:
    """Submit each stage once its upstream succeeded, at most ``max_parallel`` at a time.

    ``status``: the stages ``dvc status`` finds changed now (None: it cannot say). It is asked once
    nothing runs and a ready stage needs it: first after the ``always_changed`` stages that start the
    graph ran (DVC runs them anyway), then again only for a stage it found unchanged whose upstream
    ran since (an upstream that wrote the same bytes leaves it up to date). A stage it does not name,
    not forced, whose upstream are up to date or ran before it was asked, is up to date without a
    task: its ``dvc repro -s`` would only start a DVC process (about a second) to say so. Otherwise
    ``dvc repro`` decides, as without ``status``."""
    log = get_run_logger()
    results: dict[str, StageResult] = {}
    stale: frozenset[str] | None = None
    asked = False
    ran_since_status: set[str] = set()

    def answerable(name: str) -> bool:  # a decision dvc status can make for this stage
        return status is not None and name not in forced and name not in graph.always_changed

    def up_to_date(name: str) -> bool:
        if not answerable(name) or stale is None or name in stale:
            return False
        return all(
            results[up].status == UP_TO_DATE
            or (results[up].status in (RAN, RESTORED) and up not in ran_since_status)
            for up in graph.upstream[name]
        )

    def worth_asking(name: str) -> bool:
        if not answerable(name):
            return False
        if not asked:
            return True
        return stale is not None and name not in stale and bool(ran_since_status & set(graph.upstream[name]))

    pending = list(selected)
    in_flight: dict[PrefectFuture[StageResult], tuple[str, float]] = {}
    while pending or in_flight:
        for name in list(pending):  # topological order: a skip propagates down a chain in one pass
            broken = [
                up for up in graph.upstream[name] if up in results and results[up].status in (FAILED, SKIPPED)
            ]
            if broken:
                pending.remove(name)
                results[name] = StageResult(name, SKIPPED, note=f"upstream failed: {', '.join(broken)}")
                log.warning("skipping %s: upstream %s did not finish", name, ", ".join(broken))
        ready = [n for n in pending if all(up in results for up in graph.upstream[n])]
        if status is not None and not in_flight and any(map(worth_asking, ready)):
            stale, ran_since_status, asked = status(), set(), True
        while ready:
            name = ready.pop(0)
            if up_to_date(name):  # takes no slot, and may make its downstream ready
                pending.remove(name)
                results[name] = StageResult(name, UP_TO_DATE, note="dvc status: unchanged")
                ready = [n for n in pending if all(up in results for up in graph.upstream[n])]
            elif len(in_flight) < max_parallel:
                pending.remove(name)
                future = repro_stage.submit(str(graph.repo), name, force=name in forced)
                in_flight[future] = (name, time.time())
        if not in_flight:
            if pending:  # cannot happen: selections are closed over upstream
                raise RuntimeError(f"stages with unmet upstream: {', '.join(pending)}")
            break
        done = next(as_completed(list(in_flight)))
        name, submitted = in_flight.pop(done)
        try:
            results[name] = done.result()
            if results[name].status in (RAN, RESTORED):
                ran_since_status.add(name)
        except Exception as error:  # the task's own exception, after Prefect's retries
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            tail = error.tail.splitlines()[-1] if isinstance(error, StageError) and error.tail else ""
            results[name] = StageResult(
                name,
                FAILED,
                started=submitted,
                finished=time.time(),
                attempts=getattr(error, "attempts", 0),
                note=f"{first_line} {tail}".strip(),
                bad_input=(bad_input(error) or "") if isinstance(error, StageError) else "",
            )
            log.error("%s failed: %s", name, results[name].note)
    return [results[name] for name in selected]


def _report(graph: StageGraph, results: list[StageResult], title: str, key: str, header: str) -> None:
    metrics = {r.stage: summary.key_metrics(graph.repo, graph.metrics.get(r.stage, ())) for r in results}
    markdown = summary.render(title, results, metrics, header)
    create_markdown_artifact(markdown, key=key, description=f"{title}: what each DVC stage did")
    get_run_logger().info("%s", " · ".join(f"{n} {s}" for s, n in summary.counts(results).items()))


def _execute(
    kind: str,
    repo: str,
    targets: list[str] | None,
    force: bool,
    max_parallel: int | None,
    wait_for_repo: float,
    publish: bool,
) -> list[StageResult]:
    graph, selected, parallel = plan(repo, targets, max_parallel)
    if publish:
        check_publishable(graph.repo)
    if not force:
        forced: frozenset[str] = frozenset()
    else:  # the study forces everything; the stage flow only what its targets name, not their upstream
        forced = frozenset(graph.named(targets) if targets else selected)
    owner = f"flow run {flow_run.name}" if flow_run.name else ""
    started = time.time()
    with hold_repository(graph.repo, wait=wait_for_repo, owner=owner):
        status = None if set(forced) >= set(selected) else partial(stale_stages, graph.repo)
        results = run_stages(graph, selected, forced, parallel, status)
        header = (
            f"Repository `{graph.repo}` · max_parallel {parallel} · force {force} · "
            f"wall {time.time() - started:.1f} s"
        )
        _report(graph, results, f"pretrainlab {kind}", f"{kind}-summary", header)
        failed = [r for r in results if r.status == FAILED]
        if failed and all(r.bad_input for r in failed):
            raise StagesRefusedInput("; ".join(f"stage {r.stage}: {r.bad_input}" for r in failed))
        if failed:
            names = ", ".join(r.stage for r in failed)
            raise StagesFailed(f"{len(failed)} stage(s) failed: {names} (see the {kind}-summary artifact)")
        if publish:
            commit_and_push(graph.repo, log=get_run_logger())
    return results


def _failed_state(error: Exception) -> State:
    """A run that ends for a reason the flow names (failed stages, bad input, a busy repository) is a
    Failed state carrying that error, so Prefect does not print a traceback for it."""
    return Failed(message=str(error), data=error)


@flow(name="study", task_runner=ThreadPoolTaskRunner(), persist_result=False, log_prints=False)
def study_flow(
    repo: str = ".",
    force: bool = False,
    max_parallel: int | None = None,
    commit_and_push: bool = False,
    wait_for_repo: float = 0.0,
) -> list[StageResult] | State:
    """Every stage in dvc.yaml, upstream first; ``force`` reruns even what DVC finds up to date.

    ``commit_and_push`` (opt-in, for scheduled runs) commits dvc.lock and runs ``dvc push`` when every
    stage succeeded. ``wait_for_repo``: seconds to queue behind another flow run on the same checkout.
    """
    try:
        return _execute("study", repo, None, force, max_parallel, wait_for_repo, commit_and_push)
    except (StagesFailed, UserInputError, RepositoryBusyError) as error:
        return _failed_state(error)


@flow(name="stage", task_runner=ThreadPoolTaskRunner(), persist_result=False, log_prints=False)
def stage_flow(
    targets: list[str],
    repo: str = ".",
    force: bool = False,
    max_parallel: int | None = None,
    wait_for_repo: float = 0.0,
) -> list[StageResult] | State:
    """The target stages (``pretrain@cd-flm``, or ``pretrain`` for all cells) and whatever upstream is
    stale; ``force`` reruns the targets themselves (not their upstream) even if up to date."""
    if not targets:
        raise UserInputError("the stage flow needs at least one target stage")
    try:
        return _execute("stage", repo, targets, force, max_parallel, wait_for_repo, False)
    except (StagesFailed, UserInputError, RepositoryBusyError) as error:
        return _failed_state(error)
