"""Two gloo processes under torchrun train on the same global batches as one process: the same loss
curve (fp32, up to summation order) and the same final weights, with DDP and with FSDP2; only rank 0
writes, and what it writes is what one process would have written; only rank 0 logs to the trackers."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training import tiny_cell

pytestmark = pytest.mark.slow

CELLS = {  # name: (parallelism, arch, objective)
    "cd": ("ddp", "causal_decoder", "full_lm"),
    "ed": ("fsdp", "encoder_decoder", "span_corruption"),
}
STEPS = 8


def _curve(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distributed")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += [str(Path(tiny_cell.__file__)), str(out / "two"), "--steps", str(STEPS)]
    command += ["--track", str(out / "tracked")]
    for name, (parallelism, arch, objective) in CELLS.items():
        command += ["--cell", f"{name}={parallelism}/{arch}/{objective}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen(  # in its own folder: a tracked run records the git commit of its cwd
        command, cwd=out, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    for name, (_, arch, objective) in CELLS.items():  # the one-process references, meanwhile
        tiny_cell.run(out / "one" / name, steps=STEPS, arch=arch, objective=objective)
    _, stderr = worker.communicate(timeout=300)
    assert worker.returncode == 0, stderr[-3000:]
    return out


@pytest.mark.parametrize("name", list(CELLS))
def test_two_processes_follow_the_one_process_loss_curve(runs, name):
    one, two = _curve(runs / "one" / name / "curve.csv"), _curve(runs / "two" / name / "curve.csv")
    assert len(one) == len(two) == STEPS
    for a, b in zip(one, two, strict=True):
        assert a["step"] == b["step"] and a["tokens"] == b["tokens"]  # the global batch, not a shard
        for key in ("train_loss", "val_loss"):
            if a[key]:
                assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-5), (a["step"], key)


@pytest.mark.parametrize("name", list(CELLS))
def test_two_processes_end_with_the_one_process_weights(runs, name):
    one = load_file(runs / "one" / name / "model" / "model.safetensors")
    two = load_file(runs / "two" / name / "model" / "model.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=1e-5, rtol=1e-4, msg=key)


def test_only_rank_zero_writes_and_checkpoints_are_gone(runs):
    for name in CELLS:
        metrics = json.loads((runs / "two" / name / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and metrics["mfu"] is None  # no MFU off CUDA
        assert not (runs / "two" / name / "checkpoints").exists()
    assert not list((runs / "two").rglob(".tmp-*"))


def test_only_rank_zero_logs_to_the_trackers(runs):
    """Each step once, as rank 0 saw it (the two cells share the run ``pretrain@tiny``: the last one's)."""
    logged = (runs / "tracked" / "pretrain@tiny" / "plots" / "metrics" / "train_loss.tsv").read_text()
    rows = [line.split("\t") for line in logged.splitlines()[1:]]
    assert [int(step) for step, _ in rows] == list(range(1, STEPS + 1))
    last = _curve(runs / "two" / list(CELLS)[-1] / "curve.csv")
    assert [float(loss) for _, loss in rows] == [float(row["train_loss"]) for row in last]
