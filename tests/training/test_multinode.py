"""Two "nodes" on one machine — two torchrun launchers built as the stage builds them for
``resources.nnodes: 2`` (one gloo process each), meeting at a c10d rendezvous on 127.0.0.1 — train on
the same global batches as one process: the same loss curve and final weights within 1e-5, and only
global rank 0 writes, whichever node it lands on."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from pretrainlab.training.launch import node_flags, torchrun
from tests.training import tiny_cell

pytestmark = pytest.mark.slow

STEPS = 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _curve(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("multinode")
    rdzv = SimpleNamespace(backend="c10d", endpoint=f"127.0.0.1:{_free_port()}", id="two-nodes")
    program = [str(Path(tiny_cell.__file__)), str(out / "two"), "--steps", str(STEPS)]
    command = torchrun(node_flags(1, 2, rdzv), program)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    tiny_cell.run(out / "one", steps=STEPS)  # the one-process reference, meanwhile
    for node in nodes:
        _, stderr = node.communicate(timeout=600)
        assert node.returncode == 0, stderr[-3000:]
    return out


def test_two_nodes_follow_the_one_process_loss_curve(runs):
    one, two = _curve(runs / "one" / "curve.csv"), _curve(runs / "two" / "curve.csv")
    assert len(one) == len(two) == STEPS
    for a, b in zip(one, two, strict=True):
        assert a["step"] == b["step"] and a["tokens"] == b["tokens"]  # the global batch, not a node's
        for key in ("train_loss", "val_loss"):
            if a[key]:
                assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-5), (a["step"], key)


def test_two_nodes_end_with_the_one_process_weights(runs):
    one = load_file(runs / "one" / "model" / "model.safetensors")
    two = load_file(runs / "two" / "model" / "model.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=1e-5, rtol=1e-4, msg=key)


def test_the_run_spans_both_nodes_and_one_rank_wrote(runs):
    metrics = json.loads((runs / "two" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert not (runs / "two" / "checkpoints").exists()
    assert not list((runs / "two").rglob(".tmp-*"))
