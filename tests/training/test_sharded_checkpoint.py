"""FSDP over two gloo processes checkpoints shards through torch.distributed.checkpoint (each rank
writes its own; nothing is gathered), and a run stopped after a checkpoint resumes on one process or
on two and ends with the weights of a run that never stopped; an incomplete sharded checkpoint is
skipped for the one before, and checkpoint metadata that would run code is refused."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from pretrainlab.training.checkpoint import SHARDS_MARKER, Checkpointer
from pretrainlab.training.sharded_state import MetadataOnlyReader
from tests.training import tiny_cell

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STEPS, STOP = 6, 3  # a checkpoint after step 3, which the stopped run ends with
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _torchrun(*args: str) -> str:
    """Run the cells of ``args`` (see tests/training/sharded_cell.py) on two processes; their log."""
    command = [*TORCHRUN, "-m", "tests.training.sharded_cell", "--steps", str(STEPS), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("sharded")
    stopped = f"{out / 'stopped'}:{STOP}"
    resumed = f"{out / 'resumed-two'}={out / 'stopped'}"
    two = _torchrun("--train", str(out / "reference"), "--train", stopped, "--train", resumed)
    shutil.copytree(out / "stopped", out / "resumed-one")
    records, logger = _Records(), logging.getLogger("pretrainlab")
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:  # one process: FSDP is a no-op there, the checkpoint is still sharded
        tiny_cell.run(out / "resumed-one", steps=STEPS, parallelism="fsdp")
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    return {"out": out, "one": "\n".join(records.lines), "two": two}


def test_two_fsdp_ranks_write_their_shards_and_no_full_state(runs):
    (step,) = (runs["out"] / "stopped" / "checkpoints").glob("step-*")
    assert step.name == f"step-{STOP:08d}"
    files = {p.name for p in step.iterdir()}
    assert {".metadata", "__0_0.distcp", "__1_0.distcp", SHARDS_MARKER, "trainer.json"} <= files
    assert "state.pt" not in files
    assert not (runs["out"] / "stopped" / "metrics.json").exists()  # stopped before publishing


def test_rank_zero_saves_about_half_of_the_state(runs):
    """Rank 0 hands DCP only its shards (element count of the tensors passed to ``dcp.save``, against
    the whole model + AdamW state's) and writes about half the bytes of the shards."""
    saves = [
        json.loads(line) for line in (runs["out"] / "reference" / "saves.jsonl").read_text().splitlines()
    ]
    weights = sum(
        t.numel() for t in load_file(runs["out"] / "reference" / "model" / "model.safetensors").values()
    )
    assert [s["step"] for s in saves] == [STOP]
    for save in saves:
        assert save["whole"] >= 3 * weights  # the weights and AdamW's two moments, as one process holds them
        assert 0.4 < save["held"] / save["whole"] < 0.6, save
    step = runs["out"] / "stopped" / "checkpoints" / f"step-{STOP:08d}"
    rank0, rank1 = ((step / f"__{r}_0.distcp").stat().st_size for r in (0, 1))
    assert 0.4 < rank0 / (rank0 + rank1) < 0.6, (rank0, rank1)


@pytest.mark.parametrize("processes", ["one", "two"])
def test_stopped_run_resumes_on_any_number_of_processes_with_the_same_weights(runs, processes):
    assert f"step-{STOP:08d} (step {STOP}, sharded)" in runs[processes]
    if processes == "one":  # RNG streams cannot follow a change of world size: the log says so
        assert "made by 2 process(es), resumed by 1" in runs[processes]
    expected = load_file(runs["out"] / "reference" / "model" / "model.safetensors")
    got = load_file(runs["out"] / f"resumed-{processes}" / "model" / "model.safetensors")
    assert got.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-5, rtol=1e-5, msg=name)
    assert not (runs["out"] / f"resumed-{processes}" / "checkpoints").exists()


@pytest.mark.parametrize("damage", ["marker missing", "shard truncated"])
def test_incomplete_sharded_checkpoint_is_skipped_for_the_one_before(runs, tmp_path, damage, caplog):
    root = tmp_path / "checkpoints"
    shutil.copytree(runs["out"] / "stopped" / "checkpoints", root)
    newer = root / "step-00000005"
    shutil.copytree(root / f"step-{STOP:08d}", newer)
    if damage == "marker missing":
        (newer / SHARDS_MARKER).unlink()
    else:
        with open(newer / "__1_0.distcp", "r+b") as handle:
            handle.truncate(100)
    with caplog.at_level(logging.WARNING):
        resumed = Checkpointer(root, "fp").latest()
    assert resumed is not None and resumed.shards == root / f"step-{STOP:08d}"
    assert "ignoring incomplete sharded checkpoint" in caplog.text and "step-00000005" in caplog.text


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pickled code ran",))


def test_metadata_that_would_run_code_is_refused(runs, tmp_path):
    """DCP's ``.metadata`` is a pickle: it is read by an unpickler that accepts only DCP's classes."""
    step = runs["out"] / "stopped" / "checkpoints" / f"step-{STOP:08d}"
    assert MetadataOnlyReader(step).read_metadata().state_dict_metadata  # the real one reads
    shutil.copytree(step, tmp_path / "step")
    (tmp_path / "step" / ".metadata").write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(pickle.UnpicklingError, match="system is not checkpoint metadata"):
        MetadataOnlyReader(tmp_path / "step").read_metadata()
