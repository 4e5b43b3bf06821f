"""Reading DVC's words: what it did with a stage, and which failures deserve a retry."""

from __future__ import annotations

import pytest

from pipelines.repro import (
    RAN,
    RESTORED,
    UP_TO_DATE,
    StageError,
    TransientStageError,
    is_transient,
    outcome,
    repro,
)
from tests.pipelines.conftest import make_tiny


def test_outcome_from_dvc_output():
    assert (
        outcome("corpus", "Stage 'corpus' didn't change, skipping\nData and pipelines are up to date.")
        == UP_TO_DATE
    )
    assert outcome("report", "Stage 'report' is cached - skipping run, checking out outputs") == RESTORED
    assert outcome("pretrain@a", "Running stage 'pretrain@a':\n> pretrainlab stage pretrain --cell a") == RAN
    # another stage's words never decide this one's outcome
    assert outcome("pretrain@a", "Stage 'pretrain@ab' didn't change, skipping") == RAN


@pytest.mark.parametrize(
    "output",
    [
        "ERROR: Unable to acquire lock. Most likely another DVC process is running",
        "ERROR: 'data/tokens' is busy, it is being blocked by:\n  (PID 12: dvc repro -s tokenize)",
        "OSError: [Errno 11] Resource temporarily unavailable",
        "ERROR: failed to pull: Connection reset by peer",
    ],
)
def test_lock_contention_and_flaky_io_are_transient(output):
    assert is_transient(output)


@pytest.mark.parametrize(
    "output",
    [
        "ERROR: failed to reproduce 'pretrain@a': failed to run: pretrainlab stage pretrain, exited with 1",
        "OSError: [Errno 28] No space left on device",
        "NameError: name '_sources' is not defined",
    ],
)
def test_stage_bugs_and_full_disks_are_permanent(output):
    assert not is_transient(output)


def test_repro_runs_one_stage_and_reports_it(tmp_path):
    project = make_tiny(tmp_path / "tiny")
    first = repro(project, "prepare")
    assert first.status == RAN and first.finished >= first.started
    assert repro(project, "prepare").status == UP_TO_DATE
    assert repro(project, "prepare", force=True).status == RAN
    (project / "fail-a").write_text("")
    with pytest.raises(StageError) as failure:
        repro(project, "cell@a")
    assert not isinstance(failure.value, TransientStageError)
    assert failure.value.returncode != 0 and "cell@a" in str(failure.value)
