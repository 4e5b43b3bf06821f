"""A checkpoint asked for from outside the loop (a SLURM job's preemption signal), in one process: the
run checkpoints the step it is at, acknowledges it and stops without publishing, and its resume ends
as an uninterrupted run; a request after the last step lets the run finish; the job process stops
waiting for an acknowledgement that does not come."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pretrainlab.training import loop
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.preemption import PREEMPTED_EXIT_CODE, REQUEST_ENV, CheckpointRequest
from tests.training import tiny_cell

STEPS = 12  # tiny_cell checkpoints every 3 steps


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "cell"
    tiny_cell.run(out, steps=STEPS)
    return out


@pytest.fixture
def request_file(tmp_path, monkeypatch) -> CheckpointRequest:
    """What a SLURM job gives its workers: a request file that nobody has created yet."""
    request = CheckpointRequest(tmp_path / "job_preemption")
    monkeypatch.setenv(REQUEST_ENV, str(request.path))
    return request


def _signal_after(step: int, request: CheckpointRequest, monkeypatch) -> None:
    """The preemption signal arrives while step ``step`` trains (the job process creates the request)."""
    train = loop.Trainer.step

    def step_then_signal(self, batch):
        result = train(self, batch)
        if self.scheduler.last_epoch == step:
            request.path.touch()
        return result

    monkeypatch.setattr(loop.Trainer, "step", step_then_signal)


def test_a_requested_checkpoint_stops_the_run_and_its_resume_ends_as_an_uninterrupted_run(
    tmp_path, request_file, reference, monkeypatch, caplog
):
    out, train = tmp_path / "cell", loop.Trainer.step
    _signal_after(5, request_file, monkeypatch)  # past step 3's periodic checkpoint, before step 6's
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stopped:
        tiny_cell.run(out, steps=STEPS)
    assert stopped.value.code == PREEMPTED_EXIT_CODE
    assert "checkpointed at step 5 on the preemption signal" in caplog.messages
    assert request_file.acknowledgement.read_text() == "5"  # what the job process waits for
    assert Checkpointer(out / "checkpoints", "fp").latest().trainer.step == 5
    assert not (out / "model").exists()  # nothing published

    monkeypatch.setattr(loop.Trainer, "step", train)  # the requeued job: no signal this time
    request_file.clear()  # as the job clears it before launching its workers
    caplog.clear()
    with caplog.at_level(logging.INFO):
        tiny_cell.run(out, steps=STEPS)
    assert any(message.endswith("(step 5)") for message in caplog.messages if "resuming" in message)
    tiny_cell.assert_same_run(out, reference)


def test_a_request_after_the_last_step_lets_the_run_finish(tmp_path, request_file, monkeypatch):
    out = tmp_path / "cell"
    _signal_after(STEPS, request_file, monkeypatch)
    tiny_cell.run(out, steps=STEPS)
    assert (out / "model" / "model.safetensors").exists()
    assert not request_file.acknowledgement.exists()


def test_the_job_process_gets_the_step_checkpointed_or_stops_waiting(tmp_path):
    request = CheckpointRequest(tmp_path / "job_preemption")
    assert request.ask_and_wait(timeout=0.1) is None  # nobody answered: requeued without a checkpoint
    assert request.asked()
    request.acknowledge(40)
    assert request.ask_and_wait(timeout=0.1) == 40
    request.clear()
    assert not request.asked() and not request.acknowledgement.exists()
