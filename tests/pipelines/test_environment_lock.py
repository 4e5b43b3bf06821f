"""The pinned environment: requirements.lock pins what pyproject.toml asks for, and every model card and
evaluation metrics file records the lock's hash and the torch (and CUDA) build that made it."""

from __future__ import annotations

import hashlib
import json
import re
from importlib.metadata import requires
from pathlib import Path

import torch

from pretrainlab.metrics_contract import LOCK_FILE, EvaluationMetrics, read_metrics
from pretrainlab.training.cell import ModelCard

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0].lower())


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    return pins


def test_the_lock_pins_every_dependency_exactly_but_torch_and_no_cuda_package():
    wanted = {_name(r) for r in requires("pretrainlab") or ()}  # pyproject.toml's, extras included
    locked = _locked()
    assert wanted - {"torch"} <= set(locked), f"run `make lock`: {sorted(wanted - {'torch'} - set(locked))}"
    assert "torch" not in locked  # each machine keeps its own build of the pinned version
    assert not [name for name in locked if name.startswith("nvidia-") or name == "triton"]
    assert LOCK_FILE == ROOT / "requirements.lock"


def _evaluation(**extra) -> dict:
    return {
        "model": "cd-flm",
        "kind": "pretrain",
        "arch": "causal_decoder",
        "objective": "full_lm",
        "prompt_format": "plain",
        "val_loss": 1.0,
        "bits_per_byte": None,
        "val_tokens_scored": 1,
        "tasks": {},
        "clusters": {},
        "held_out": None,
        "held_in": None,
        **extra,
    }


def test_a_model_card_and_an_evaluation_record_the_environment_that_made_them():
    expected = {
        "lock_sha256": hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    card = ModelCard("tiny", "pretrain", "causal_decoder", "full_lm", "plain", 16, None).as_json("f" * 8)
    assert card["environment"] == expected
    assert EvaluationMetrics.model_validate(_evaluation()).as_json()["environment"] == expected


def test_a_metrics_file_is_read_back_with_the_environment_it_recorded_not_the_readers(tmp_path):
    recorded = {"lock_sha256": "0" * 64, "torch": "2.13.0+cu130", "cuda": "13.0"}
    path = tmp_path / "new.json"
    path.write_text(json.dumps(_evaluation(environment=recorded)))
    assert read_metrics(path, EvaluationMetrics, "dvc repro").as_json()["environment"] == recorded
    older = tmp_path / "older.json"  # written before environments were recorded
    older.write_text(json.dumps(_evaluation()))
    assert read_metrics(older, EvaluationMetrics, "dvc repro").environment is None
