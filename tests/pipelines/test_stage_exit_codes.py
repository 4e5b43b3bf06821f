"""A stage that refuses its input (exit code 2, one `error:` line) does the same through
`pretrainlab flow run`: one line naming the key, exit code 2, no traceback; any other stage failure
stays exit code 1."""

from __future__ import annotations

import subprocess
import sys

from pipelines.repro import StageError, bad_input, stage_exit_code
from tests.pipelines.conftest import subprocess_env

# cell@<key> refuses its input while a file named `refuse-<key>` exists, as `pretrainlab stage` does.
CELL = "cmd: test ! -e fail-${key} && sleep ${item.sleep} && cat prepared.txt > cells/${key}.txt"
REFUSING_CELL = (
    'cmd: \'if [ -e refuse-${key} ]; then echo "error: tiny.yaml: cells.${key}.sleep: refused here" >&2; '
    "exit 2; fi; test ! -e fail-${key} && sleep ${item.sleep} && cat prepared.txt > cells/${key}.txt'"
)


def _refusing(tiny):
    text = (tiny / "dvc.yaml").read_text()
    assert CELL in text
    (tiny / "dvc.yaml").write_text(text.replace(CELL, REFUSING_CELL))
    return tiny


def _flow_run(project, api_url) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--repo", str(project)],
        env=subprocess_env(api_url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dvc_output_names_the_stage_commands_exit_code_and_its_error_line():
    tail = (
        "error: params.yaml: corpus.sources: must not be empty\n"
        "ERROR: failed to reproduce 'corpus': failed to run: pretrainlab stage corpus, exited with 2"
    )
    assert stage_exit_code("corpus", tail) == 2
    assert stage_exit_code("corpus@a", tail) is None  # another stage's words
    assert bad_input(StageError("corpus", 255, tail)) == "params.yaml: corpus.sources: must not be empty"
    crashed = tail.replace("exited with 2", "exited with 1")
    assert bad_input(StageError("corpus", 255, crashed)) is None


def test_a_stage_refusing_its_input_ends_the_flow_run_in_one_line_and_exit_2(tiny, prefect_api):
    project = _refusing(tiny)
    (project / "refuse-a").write_text("")
    result = _flow_run(project, prefect_api)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "stage cell@a: tiny.yaml: cells.a.sleep: refused here" in errors[0], (
        result.stderr
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert (project / "cells" / "b.txt").exists(), "the other cell still ran"


def test_a_stage_failing_otherwise_stays_exit_1(tiny, prefect_api):
    project = _refusing(tiny)
    (project / "refuse-a").write_text("")
    (project / "fail-b").write_text("")
    result = _flow_run(project, prefect_api)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 stage(s) failed: cell@a" not in result.stderr and "cell@b" in result.stderr
