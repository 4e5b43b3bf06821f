"""``kill -9`` a training cell at random moments (seeded) — mid-step, mid-checkpoint, mid-publishing —
rerun it each time, and let the last rerun finish: the weights are bit-identical to a run that was
never killed, a killed run never leaves outputs that look finished, a checkpoint cut mid-write or
made with other params is never resumed, and the checkpoints go only once the outputs are out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training import tiny_cell

pytestmark = pytest.mark.slow

STEPS = 12  # checkpoints every 3 steps
TIMING = ("train_seconds", "tokens_per_second")


def _start(out: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, str(Path(tiny_cell.__file__)), str(out), "--steps", str(STEPS)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as stderr:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)


def _kill_after(process: subprocess.Popen, event: str, delay: float) -> None:
    """SIGKILL ``process`` ``delay`` seconds after it prints ``event``."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == event:
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=120)


def _assert_nothing_looks_finished_unless_it_is(out: Path, reference: Path) -> None:
    if not (out / "metrics.json").exists():
        return
    # metrics are written last: if they are there, the model and curve are the finished ones
    tiny_cell.assert_same_run(out, reference)


def _plant_bad_checkpoints(checkpoints: Path) -> None:
    """Newer than anything real: one cut mid-write, one made with other params."""
    real = sorted(checkpoints.glob("step-*"))[-1]
    cut = checkpoints / "step-00000098"
    cut.mkdir()
    (cut / "state.pt").write_bytes(real.joinpath("state.pt").read_bytes()[:1000])
    other = checkpoints / "step-00000099"
    other.mkdir()
    (other / "state.pt").write_bytes(real.joinpath("state.pt").read_bytes())
    trainer = json.loads(real.joinpath("trainer.json").read_text())
    (other / "trainer.json").write_text(json.dumps({**trainer, "fingerprint": "other-params"}))
    (checkpoints / ".tmp-step-00000097.12345").mkdir()


def test_killed_three_times_then_finished_equals_uninterrupted(tmp_path):
    reference = tmp_path / "reference"
    tiny_cell.run(reference, steps=STEPS)
    expected_metrics = json.loads((reference / "metrics.json").read_text())

    out = tmp_path / "killed"
    rng = np.random.default_rng(8)  # kills at steps 6 and 9 (around checkpoint writes) and mid-publishing
    events = [f"step {s}" for s in range(4, STEPS + 1)] + ["publishing"]  # after the first checkpoint
    for index in sorted(rng.choice(len(events), size=3, replace=False)):
        event = events[index]
        delay = 0.0 if event == "publishing" else float(rng.uniform(0.0, 0.03))
        process = _start(out, tmp_path / "killed.log")
        _kill_after(process, event, delay)
        assert process.returncode in (-signal.SIGKILL, 0), (tmp_path / "killed.log").read_text()[-2000:]
        _assert_nothing_looks_finished_unless_it_is(out, reference)

    checkpoints = out / "checkpoints"
    resumable = checkpoints.exists()
    if resumable:
        _plant_bad_checkpoints(checkpoints)
    process = _start(out, tmp_path / "final.log")
    process.communicate(timeout=120)
    log = (tmp_path / "final.log").read_text()
    assert process.returncode == 0, log[-3000:]

    if resumable:
        assert "resuming from" in log and "step-00000099 was made with other params" in log
        assert "ignoring unreadable checkpoint" in log  # the one cut mid-write
    tiny_cell.assert_same_run(out, reference)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {k: v for k, v in metrics.items() if k not in TIMING} == {
        k: v for k, v in expected_metrics.items() if k not in TIMING
    }
    assert not checkpoints.exists()
    assert not list(out.glob(".tmp-*"))  # no temporaries of killed writes left next to the outputs
