"""Bad resources for a training stage exit 2 with the key named, before anything is written; running
out of memory names the batch keys and suggests a smaller ``batch_tokens``; a worker's message
reaches the user through the torchrun launcher."""

from __future__ import annotations

import sys

import pytest
import torch
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.errors import UserInputError
from pretrainlab.training import launch, loop
from pretrainlab.training.device import attention_backend, resolve_runtime
from pretrainlab.training.mfu import model_flops_utilization
from tests.conftest import SMOKE
from tests.training import tiny_cell

PRETRAIN = ["stage", "pretrain", "--cell", "cd-flm"]


def _fake_gpus(monkeypatch, count: int, bf16: bool = True) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)


def _run_stage(tmp_path, monkeypatch, **resources):
    params = yaml.safe_load(SMOKE.read_text())
    params["resources"].update(resources)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, PRETRAIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written
    return result


@pytest.mark.parametrize(
    ("gpus", "bf16", "resources", "culprit"),
    [
        (0, True, {"nproc_per_node": 512}, "resources.nproc_per_node: 512 processes asked for on the CPU"),
        (0, True, {"device": "cuda"}, "resources.device"),
        (1, True, {"device": "cuda", "nproc_per_node": 2}, "only 1 CUDA GPU(s)"),
        (1, False, {"device": "cuda", "precision": "bf16"}, "resources.precision: bf16 is not supported"),
    ],
    ids=["more-processes-than-cores", "cuda-without-gpu", "more-processes-than-gpus", "bf16-unsupported"],
)
def test_bad_resources_exit_2_before_anything_is_written(
    tmp_path, monkeypatch, gpus, bf16, resources, culprit
):
    _fake_gpus(monkeypatch, gpus, bf16)
    result = _run_stage(tmp_path, monkeypatch, **resources)
    assert result.exit_code == 2, result.output
    assert culprit in " ".join(result.output.split())


def test_worker_error_reaches_the_user_with_exit_2(tmp_path, monkeypatch):
    """A worker's UserInputError (e.g. out of memory on rank 1) is the launcher's message, not a traceback."""
    worker = (
        "import os, pathlib; d = os.environ['PRETRAINLAB_ERROR_DIR']; "
        "pathlib.Path(d, 'rank-1.txt').write_text('out of memory on cuda:1 (rank 1 of 2)'); raise SystemExit(1)"
    )
    monkeypatch.setattr(launch, "available_cpus", lambda: 4)
    monkeypatch.setattr(launch, "torchrun_command", lambda n, args: [sys.executable, "-c", worker])
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    result = _run_stage(tmp_path, monkeypatch, nproc_per_node=2)
    assert result.exit_code == 2, result.output
    assert "out of memory on cuda:1 (rank 1 of 2)" in result.output


def test_relaunch_command_runs_the_same_stage_under_torchrun():
    command = launch.torchrun_command(2, ["stage", "pretrain", "--params", "p.yaml", "--cell", "x"])
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[5:] == ["-m", "pretrainlab.cli", "stage", "pretrain", "--params", "p.yaml", "--cell", "x"]


def test_out_of_memory_names_batch_keys_and_suggests_smaller_batch(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(loop, "forward_logits", out_of_memory)
    with pytest.raises(UserInputError) as error:
        tiny_cell.run(tmp_path, steps=2)
    message = str(error.value)
    assert "pretrain.batch_tokens=128" in message and "pretrain.seq_len=32" in message
    assert "smaller pretrain.batch_tokens (e.g. 64)" in message
    assert not (tmp_path / "metrics.json").exists()


def test_failed_compile_is_a_clear_error(tmp_path, monkeypatch):
    from torch._dynamo.exc import TorchDynamoException

    def compile_fails(*args, **kwargs):
        raise TorchDynamoException("no C++ compiler found")

    monkeypatch.setattr(loop, "forward_logits", compile_fails)
    with pytest.raises(UserInputError, match=r"resources.compile: torch.compile failed .*no C\+\+ compiler"):
        tiny_cell.run(tmp_path, steps=2, compile=True)


def test_gpu_speed_defaults():
    assert attention_backend(torch.device("cuda")) == "sdpa"
    assert attention_backend(torch.device("cpu")) == "eager"
    assert resolve_runtime("cpu", "auto").precision == "fp32"
    assert model_flops_utilization(494.5e12, "NVIDIA H100 80GB HBM3") == pytest.approx(0.5)
