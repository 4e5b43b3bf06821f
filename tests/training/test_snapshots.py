"""``eval_at`` snapshots of a tiny cell: kept at the declared points with the tokens and FLOPs spent,
published inside the model directory, and byte-identical whether or not the run was stopped and
resumed from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from pretrainlab.errors import UserInputError
from pretrainlab.training import loop
from pretrainlab.training.snapshots import published_snapshots
from tests.training import tiny_cell

STEPS = 12  # 128 tokens a step (4 sequences of 32); checkpoints every 3 steps
EVAL_AT = (300, 640, STEPS * 128)  # steps 2, 5 and the last one


class Interrupt(Exception):
    pass


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _stopped_at(monkeypatch, call: int) -> None:
    """The next run dies as if killed when its ``call``-th training step starts."""
    step, calls = loop.Trainer.step, {"n": 0}

    def stopping(self, batch):
        calls["n"] += 1
        if calls["n"] == call:
            raise Interrupt
        return step(self, batch)

    monkeypatch.setattr(loop.Trainer, "step", stopping)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    tiny_cell.run(out, steps=STEPS, eval_at=EVAL_AT)
    return out


def test_snapshots_are_kept_at_the_declared_points_with_what_they_cost(uninterrupted):
    snapshots = published_snapshots(uninterrupted / "model")
    assert [s.folder.name for s in snapshots] == ["tokens-300", "tokens-640", "tokens-1536"]
    assert [(s.point.step, s.point.tokens) for s in snapshots] == [(2, 256), (5, 640), (12, 1536)]
    metrics = json.loads((uninterrupted / "metrics.json").read_text())
    assert snapshots[-1].point.flops == pytest.approx(metrics["flops"])
    assert snapshots[0].point.flops == pytest.approx(metrics["flops"] * 2 / STEPS)
    final_card = json.loads((uninterrupted / "model" / "pretrainlab.json").read_text())
    assert "snapshot" not in final_card
    for snapshot in snapshots:  # a model directory like the final one, its card saying where it was taken
        assert {"config.json", "model.safetensors", "tokenizer.json", "pretrainlab.json"} <= set(
            _files(snapshot.folder)
        )
        assert {k: v for k, v in snapshot.card.items() if k != "snapshot"} == final_card
    # the last point is the final model; the others were taken on the way
    final = load_file(uninterrupted / "model" / "model.safetensors")
    last, first = (load_file(snapshots[i].folder / "model.safetensors") for i in (-1, 0))
    assert all(torch.equal(last[k], final[k]) for k in final)
    assert not all(torch.equal(first[k], final[k]) for k in final)
    assert not (uninterrupted / "checkpoints").exists()  # staged snapshots go with the checkpoints


@pytest.mark.parametrize(
    "stop_at_call", [8, 6], ids=["after-a-checkpoint", "between-snapshot-and-checkpoint"]
)
def test_a_resumed_run_keeps_the_same_snapshots_as_one_never_stopped(
    uninterrupted, tmp_path, monkeypatch, stop_at_call
):
    with monkeypatch.context() as patch:
        _stopped_at(patch, stop_at_call)  # call 6 is step 6: snapshot 5 written, checkpoint 6 not yet
        with pytest.raises(Interrupt):
            tiny_cell.run(tmp_path, steps=STEPS, eval_at=EVAL_AT)
    assert not (tmp_path / "model").exists()
    assert (tmp_path / "checkpoints" / "snapshots" / "tokens-640").is_dir()
    tiny_cell.run(tmp_path, steps=STEPS, eval_at=EVAL_AT)
    assert _files(tmp_path / "model" / "snapshots") == _files(uninterrupted / "model" / "snapshots")


def test_a_resume_without_the_snapshots_before_it_is_refused(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        _stopped_at(patch, 8)
        with pytest.raises(Interrupt):
            tiny_cell.run(tmp_path, steps=STEPS, eval_at=EVAL_AT)
    staged = tmp_path / "checkpoints" / "snapshots"
    for folder in staged.iterdir():
        if folder.name == "tokens-300":
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()
    with pytest.raises(UserInputError, match="tokens-300 missing, yet training resumes at step 6"):
        tiny_cell.run(tmp_path, steps=STEPS, eval_at=EVAL_AT)
    assert not (tmp_path / "model").exists()
