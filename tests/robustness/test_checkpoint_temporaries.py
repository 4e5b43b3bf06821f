"""A checkpoint folder is cleaned of what killed writers left, never of a live writer's step (another
run of the same cell still saving): the checkpointer goes through atomic.py like every other writer."""

from __future__ import annotations

import os
import subprocess

from pretrainlab.training.checkpoint import Checkpointer


def _finished_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_resuming_removes_dead_writers_temporaries_but_not_a_live_ones(tmp_path):
    dead = tmp_path / f".tmp-step-00000004.{_finished_pid()}"
    live = tmp_path / f".tmp-step-00000008.{os.getppid()}"
    for path in (dead, live):
        path.mkdir()
        (path / "state.pt").write_bytes(b"partial")
    assert Checkpointer(tmp_path, "fingerprint").latest() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]


def test_a_reader_rank_touches_nothing(tmp_path):
    dead = tmp_path / f".tmp-step-00000004.{_finished_pid()}"
    dead.mkdir()
    Checkpointer(tmp_path, "fingerprint", writer=False).latest()
    assert dead.is_dir()
