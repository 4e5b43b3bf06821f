"""A real `prefect server start` (SQLite, loopback, a free port, its own PREFECT_HOME): a flow run
driven by `pretrainlab flow run` against it, read back through the API. While that run holds the
repository, a second run fails clearly (exit 75) and a third queues behind it; dvc.lock stays valid.

Without PREFECT_API_URL, a new user's first run (fresh PREFECT_HOME) starts Prefect's temporary
server, waits for it as long as a slow machine needs, and ends in one line if it does not answer.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import flow_app
from pipelines.repo_lock import RepositoryBusyError, lock_path
from pipelines.repro import RAN, UP_TO_DATE
from pipelines.server import SETTING, TEMPORARY_SERVER_TIMEOUT_S
from pipelines.study import stage_flow
from tests.pipelines.conftest import make_tiny, run, subprocess_env, write_sleeps

SERVER_START_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start the server in its own session (so stopping it stops its children); yield the API URL."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    port = free_port()
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    prefect = Path(sys.executable).parent / "prefect"
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            assert process.poll() is None, (home / "server.log").read_text()
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"prefect server did not answer within {SERVER_START_TIMEOUT} s")
        yield api
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    assert process.returncode is not None


@pytest.fixture(scope="module")
def contested(server, prefect_api, tmp_path_factory):
    """A CLI flow run against the real server; meanwhile a second and a third run on the same repo."""
    project = make_tiny(tmp_path_factory.mktemp("contested") / "tiny")
    write_sleeps(project, a=5, b=5)  # a window wide enough for the second and third runs
    first = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--repo", str(project), "--max-parallel", "2"],
        env=subprocess_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _held(project) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _held(project), "the first run never took the repository"
        busy = CliRunner().invoke(flow_app, ["run", "--repo", str(project)])
        still_running = first.poll() is None
        queued = stage_flow(targets=["summary"], repo=str(project), wait_for_repo=120)
        first_done = first.poll() is not None
    finally:
        output, _ = first.communicate(timeout=180)
    return {
        "project": project,
        "output": output,
        "returncode": first.returncode,
        "busy": busy,
        "busy_while_running": still_running,
        "queued": queued,
        "queued_after_first": first_done,
    }


def _held(repo: Path) -> bool:
    path = lock_path(repo)
    return path.exists() and path.read_text().startswith("pid ")


def test_flow_run_on_a_real_server_reads_back_completed(server, contested):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    assert contested["returncode"] == 0, contested["output"]
    run_id = UUID(re.search(r"flow run ([0-9a-f-]{36}): Completed", contested["output"]).group(1))
    with temporary_settings({PREFECT_API_URL: server}), get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
        assert flow_run.state.is_completed() and flow_run.state.type.value == "COMPLETED"
        assert flow_run.parameters["max_parallel"] == 2
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        assert sorted(t.name for t in tasks) == ["cell@a", "cell@b", "prepare", "summary"]
        assert all(t.state.is_completed() for t in tasks)
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        assert [a.key for a in artifacts] == ["study-summary"]
        assert "| `summary` | ran |" in artifacts[0].data


def test_a_second_run_on_the_same_repository_fails_clearly(contested):
    busy = contested["busy"]
    assert contested["busy_while_running"]
    assert busy.exit_code == RepositoryBusyError.exit_code, busy.output
    assert "another pretrainlab flow run holds this repository" in busy.output


def test_a_queued_run_waits_and_dvc_lock_stays_valid(contested):
    project = contested["project"]
    assert contested["queued_after_first"], "the queued run must start after the first one finished"
    assert {r.status for r in contested["queued"]} == {UP_TO_DATE}
    assert "is busy" not in contested["output"] and "Unable to acquire lock" not in contested["output"]
    assert f"{RAN:<10}" in contested["output"]
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"prepare", "cell@a", "cell@b", "summary"}
    assert run(["dvc", "status", "--json"], project).stdout.strip() in ("{}", "")


def first_run(project: Path, home: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """`pretrainlab flow run` as a new user: no PREFECT_API_URL, an empty PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", SETTING)}
    env.update(PREFECT_HOME=str(home), **settings)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--repo", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TEMPORARY_SERVER_TIMEOUT_S + 120,
    )


def test_a_first_run_starts_the_temporary_server_and_completes(tmp_path):
    project = make_tiny(tmp_path / "tiny")
    result = first_run(project, tmp_path / "prefect-home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"flow run [0-9a-f-]{36}: Completed", result.stdout)
    assert (project / "summary.txt").exists()
    assert "Traceback" not in result.stderr


def test_a_temporary_server_that_does_not_answer_ends_in_one_line(tmp_path):
    project = make_tiny(tmp_path / "tiny")
    result = first_run(project, tmp_path / "prefect-home", **{SETTING: "0"})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        f"error: Prefect's temporary server did not answer within 0 s; raise {SETTING} (now 0), or run "
        "`prefect server start` and set PREFECT_API_URL to its API (http://HOST:PORT/api)"
    ], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / "prepared.txt").exists(), "no stage may run without a server"


# Start-up is replaced by printing the timeout it was given.
PRINT_STARTUP_TIMEOUT = """
from prefect.server.api.server import SubprocessASGIServer
SubprocessASGIServer.start = lambda self, timeout=None: print(timeout)
from pipelines.server import start_temporary_server
start_temporary_server()
"""


@pytest.mark.parametrize(
    ("setting", "where", "expected"),
    [(None, None, TEMPORARY_SERVER_TIMEOUT_S), ("7", "environment", 7), ("9", "profile", 9)],
)
def test_the_startup_timeout_is_ours_unless_the_user_set_one(tmp_path, setting, where, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", SETTING)}
    env["PREFECT_HOME"] = str(tmp_path)
    if where == "environment":
        env[SETTING] = setting
    elif where == "profile":
        prefect = Path(sys.executable).parent / "prefect"
        subprocess.run([str(prefect), "config", "set", f"{SETTING}={setting}"], env=env, check=True)
    result = subprocess.run(
        [sys.executable, "-c", PRINT_STARTUP_TIMEOUT], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [str(expected)]
