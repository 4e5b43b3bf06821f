"""Train one cell and publish its artifacts: the HF model directory, metrics JSON and loss-curve CSV.

Shared by every training stage (pretrain now; adapt and finetune reuse it): the stage decides the
model and the batches, this module runs the loop with checkpoints and writes outputs atomically.

Under torchrun (``resources.nproc_per_node > 1``, see :mod:`pretrainlab.training.launch`) every rank
runs this function on its share of each batch; only rank 0 writes outputs and checkpoints.

Publishing order, so that a kill at any moment never leaves a cell that looks finished: an earlier
run's outputs stay in place while this one trains (a run that fails, or is killed, before publishing
leaves them as they were); once training is done, the earlier metrics file (the finished-marker) is
removed first, then the model directory, the loss curve and the metrics file last are each replaced
by an atomic rename — metrics present means the other two are from the same finished run.
Checkpoints are removed only after all three are published, so a kill while publishing resumes from
the last checkpoint and publishes the same bytes again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel

from pretrainlab import atomic, paths
from pretrainlab.atomic import atomic_dir, atomic_file, json_text
from pretrainlab.config.schema import OptimizerConfig, ResourcesConfig
from pretrainlab.errors import UserInputError
from pretrainlab.models.layout import ModelBatch
from pretrainlab.training import distributed
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.device import resolve_runtime
from pretrainlab.training.distributed import World
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

    @classmethod
    def of(cls, stage: str, name: str) -> CellOutputs:
        """The public artifact paths of ``<stage>@<name>`` (README: "Artifacts")."""
        return cls(
            paths.model_dir(stage, name),
            paths.checkpoint_dir(stage, name),
            paths.metrics_file(stage, name),
            paths.plots_file(stage, name),
        )


def source_model(ref: str) -> tuple[Path, dict[str, Any]]:
    """The directory and model card of ``ref`` (``pretrain/<cell>`` or ``adapt/<name>``), which must exist."""
    source_dir = paths.MODELS / ref
    if not (source_dir / MODEL_CARD).is_file():
        raise UserInputError(
            f"{source_dir}: source model not found (run `dvc repro {ref.replace('/', '@')}`)"
        )
    return source_dir, read_card(source_dir)


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
    batch_keys: tuple[tuple[str, int], ...] = (),
) -> dict[str, Any]:
    """Train ``model`` for ``plan.steps`` steps (resuming a matching checkpoint) and write outputs.

    ``train_batch(step)`` gives the global batch of a step; under torchrun it must also have
    ``shard(rank, world_size)`` (as :class:`~pretrainlab.training.batches.ObjectiveBatches` does).
    ``batch_keys`` are the (params key, value) pairs that size a batch, named if memory runs out.
    """
    world = World.from_env(distributed.parallelism_of(resources))
    runtime = resolve_runtime(resources.device, resources.precision)
    if plan.batch_size < world.world_size:
        key, value = batch_keys[0] if batch_keys else ("the batch size", plan.batch_size)
        raise UserInputError(
            f"{key}: {value} gives {plan.batch_size} sequence(s) per step, fewer than the "
            f"{world.world_size} processes (resources.nproc_per_node) that split it"
        )
    runtime = replace(runtime, device=distributed.device_for(world, runtime.device))
    distributed.init_process_group(world, runtime.device)
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
        compile=resources.compile,
        batch_keys=batch_keys,
    )
    checkpointer = Checkpointer(outputs.checkpoints, fingerprint, writer=world.is_main)
    log.info(
        "%s/%s: %d steps x %d tokens (%.3g FLOPs), %.2fM parameters, on %s/%s%s",
        plan.arch,
        plan.objective,
        plan.steps,
        plan.tokens_per_step,
        plan.flops,
        plan.parameters / 1e6,
        runtime.device,
        runtime.precision,
        f" x {world.world_size} ranks ({world.parallelism})" if world.distributed else "",
    )
    if world.distributed:
        if not hasattr(train_batch, "shard"):
            raise TypeError(f"{type(train_batch).__name__} has no shard(rank, world_size): cannot split it")
        train_batch = train_batch.shard(world.rank, world.world_size)
    trainer = Trainer(model, config, runtime, train_batch, lambda: val_batches, checkpointer, world)
    result = trainer.fit()
    metrics = {
        **plan.as_metrics(),
        **_result_metrics(result),
        "device": str(runtime.device),
        "world_size": world.world_size,
    }
    # FSDP holds shards: gather the full weights (every rank takes part) for rank 0 to save
    full_state = (
        distributed.full_model_state(trainer.model)
        if world.parallelism == "fsdp" and world.distributed
        else None
    )
    if world.is_main:
        metrics_text = json_text(metrics, outputs.metrics)  # a NaN loss: refused, nothing replaced
        atomic.remove(outputs.metrics)  # the earlier run's finished-marker goes first
        card = {**card, "fingerprint": fingerprint}
        save_model(distributed.unwrap(trainer.model), outputs.model_dir, tokenizer_dir, card, full_state)
        write_curve(outputs.plots, result.history)
        with atomic_file(outputs.metrics) as handle:  # last: its presence marks a finished cell
            handle.write(metrics_text)
        checkpointer.clear()
    distributed.barrier(world)
    return metrics


def _result_metrics(result: LoopResult) -> dict[str, float | None]:
    return {
        "train_loss": result.final_train_loss,
        "val_loss": result.final_val_loss,
        "tokens_per_second": result.tokens_per_second,
        "train_seconds": result.train_seconds,
        "mfu": result.mfu,  # null off CUDA
    }


def save_model(
    model: PreTrainedModel,
    out_dir: Path,
    tokenizer_dir: Path,
    card: dict[str, Any],
    state_dict: dict[str, torch.Tensor] | None = None,
) -> None:
    """``save_pretrained`` (safetensors) + the tokenizer + the model card, published atomically.

    ``state_dict``: the full weights when ``model`` holds only shards (FSDP); else the model's own.
    """
    with atomic_dir(out_dir) as tmp:
        if state_dict is None:
            model.to(torch.device("cpu")).save_pretrained(tmp, safe_serialization=True)
        else:
            model.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
        for item in Path(tokenizer_dir).iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
        (tmp / MODEL_CARD).write_text(json_text(card, out_dir / MODEL_CARD))


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
