"""Train one cell and publish its artifacts: the HF model directory, metrics JSON and loss-curve CSV.

Shared by every training stage (pretrain now; adapt and finetune reuse it): the stage decides the
model and the batches, this module runs the loop with checkpoints and writes outputs atomically.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel

from pretrainlab.atomic import atomic_dir, atomic_file, write_json
from pretrainlab.config.schema import OptimizerConfig, ResourcesConfig
from pretrainlab.models.layout import ModelBatch
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.device import resolve_runtime
from pretrainlab.training.loop import LoopConfig, LoopResult, Trainer
from pretrainlab.training.plan import CellPlan

log = logging.getLogger(__name__)

MODEL_CARD = "pretrainlab.json"  # what the project records about a model dir (arch, objective, ...)
CURVE_FIELDS = ("step", "tokens", "train_loss", "val_loss", "lr")


@dataclass(frozen=True)
class CellOutputs:
    model_dir: Path
    checkpoints: Path
    metrics: Path
    plots: Path


def curve_strides(steps: int) -> tuple[int, int]:
    """(eval_every, record_every): about 10 validation points and 200 curve rows, whatever the length."""
    return max(1, steps // 10), max(1, steps // 200)


def train_cell(
    model: PreTrainedModel,
    plan: CellPlan,
    train_batch: Any,
    val_batches: list[ModelBatch],
    *,
    optimizer: OptimizerConfig,
    resources: ResourcesConfig,
    fingerprint: str,
    seed: int,
    outputs: CellOutputs,
    tokenizer_dir: Path,
    card: dict[str, Any],
) -> dict[str, Any]:
    """Train ``model`` for ``plan.steps`` steps (resuming a matching checkpoint) and write outputs."""
    runtime = resolve_runtime(resources.device, resources.precision)
    eval_every, record_every = curve_strides(plan.steps)
    config = LoopConfig(
        arch=plan.arch,
        steps=plan.steps,
        optimizer=optimizer,
        flops_per_step=plan.flops_per_step,
        eval_every=eval_every,
        record_every=record_every,
        seed=seed,
        log_interval=resources.log_interval,
        checkpoint_interval=resources.checkpoint_interval,
    )
    checkpointer = Checkpointer(outputs.checkpoints, fingerprint)
    log.info(
        "%s/%s: %d steps x %d tokens (%.3g FLOPs), %.2fM parameters, on %s/%s",
        plan.arch,
        plan.objective,
        plan.steps,
        plan.tokens_per_step,
        plan.flops,
        plan.parameters / 1e6,
        runtime.device,
        runtime.precision,
    )
    trainer = Trainer(model, config, runtime, train_batch, lambda: val_batches, checkpointer)
    result = trainer.fit()
    metrics = {**plan.as_metrics(), **_result_metrics(result), "device": str(runtime.device)}
    save_model(trainer.model, outputs.model_dir, tokenizer_dir, {**card, "fingerprint": fingerprint})
    write_curve(outputs.plots, result.history)
    write_json(outputs.metrics, metrics)
    checkpointer.clear()
    return metrics


def _result_metrics(result: LoopResult) -> dict[str, float]:
    return {
        "train_loss": result.final_train_loss,
        "val_loss": result.final_val_loss,
        "tokens_per_second": result.tokens_per_second,
        "train_seconds": result.train_seconds,
    }


def save_model(model: PreTrainedModel, out_dir: Path, tokenizer_dir: Path, card: dict[str, Any]) -> None:
    """``save_pretrained`` (safetensors) + the tokenizer + the model card, published atomically."""
    with atomic_dir(out_dir) as tmp:
        model.to(torch.device("cpu")).save_pretrained(tmp, safe_serialization=True)
        for item in Path(tokenizer_dir).iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
        (tmp / MODEL_CARD).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


def read_card(model_dir: Path) -> dict[str, Any]:
    return json.loads((Path(model_dir) / MODEL_CARD).read_text())


def write_curve(path: Path, history: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CURVE_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CURVE_FIELDS})
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())
