"""Prefect against a throwaway SQLite database in a temporary PREFECT_HOME, and tiny DVC projects.

The tiny project's stages are shell one-liners (milliseconds), so orchestration behaviour — failure
isolation, locking, retries, deployments, a real server — is tested without training anything; the
smoke study (tests/pipelines/test_study_flow.py) checks the real pipeline once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before prefect is imported anywhere in this session: its settings are read from the environment.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="pretrainlab-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
import pipelines  # noqa: E402, F401 - offline defaults (no telemetry, no analytics)
from tests.checkout import make_project, run  # noqa: E402
from tests.conftest import SMOKE  # noqa: E402

# Two cells that share upstream (`prepare`) and feed one `summary`; a cell fails while a file named
# `fail-<cell>` exists (not a dependency, so DVC still sees the stage as stale after the failure).
# Their params live in tiny.yaml: params.yaml must stay a valid study (the flow validates it).
TINY_DVC_YAML = """\
vars: [tiny.yaml]
stages:
  prepare:
    cmd: echo prepared > prepared.txt
    outs: [prepared.txt]
  cell:
    foreach: ${cells}
    do:
      cmd: test ! -e fail-${key} && sleep ${item.sleep} && cat prepared.txt > cells/${key}.txt
      deps: [prepared.txt]
      params:
        - tiny.yaml:
            - cells.${key}
      outs:
        - cells/${key}.txt
  summary:
    cmd: cat cells/a.txt cells/b.txt > summary.txt
    deps: [cells]
    outs: [summary.txt]
"""


def write_sleeps(project: Path, a: float = 0.0, b: float = 0.0) -> None:
    (project / "tiny.yaml").write_text(f"cells: {{a: {{sleep: {a}}}, b: {{sleep: {b}}}}}\n")


def make_tiny(dest: Path) -> Path:
    """A git + DVC repository with the tiny pipeline; params.yaml is the smoke study."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "cells").mkdir()
    (dest / "cells" / ".gitkeep").write_text("")
    (dest / "dvc.yaml").write_text(TINY_DVC_YAML)
    (dest / "params.yaml").write_text(SMOKE.read_text())
    write_sleeps(dest)
    run(["git", "init", "-q"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], dest)
    return dest


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """A temporary Prefect server (SQLite) for the whole session; returns its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture
def tiny(tmp_path, prefect_api) -> Path:
    return make_tiny(tmp_path / "tiny")


def subprocess_env(api_url: str) -> dict[str, str]:
    """Environment for a ``pretrainlab flow`` subprocess talking to ``api_url``."""
    env = dict(os.environ)
    env["PREFECT_API_URL"] = api_url
    return env


__all__ = ["make_project", "make_tiny", "run", "subprocess_env", "write_sleeps"]
