"""One training job, whatever the stage: a stage's ``prepare()`` turns its params into a
:class:`TrainingJob` (the model, its plan, its batches, what to publish) and :func:`run_job` trains it —
an optional frozen warm-up, the main phase with checkpoints and bit-exact resume — and publishes it.

Under torchrun (``resources.nproc_per_node > 1``, see :mod:`pretrainlab.training.launch`) every rank
runs :func:`run_job` on its share of each batch; only rank 0 writes outputs and checkpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import PreTrainedModel

from pretrainlab import paths
from pretrainlab.config.schema import OptimizerConfig, ResourcesConfig
from pretrainlab.errors import UserInputError
from pretrainlab.models.layout import ModelBatch
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.tracking.tracker import Tracker
from pretrainlab.training import distributed
from pretrainlab.training.cell import CellOutputs, ModelCard, cell_metrics, publish
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.device import Runtime, resolve_runtime
from pretrainlab.training.distributed import World
from pretrainlab.training.loop import CompileFailed, LoopConfig, OutOfMemory, Trainer
from pretrainlab.training.plan import CellPlan
from pretrainlab.training.preemption import PREEMPTED_EXIT_CODE, Preempted
from pretrainlab.training.snapshots import SNAPSHOTS, SnapshotPoint, SnapshotWriter

log = logging.getLogger(__name__)

# The warm-up's dropout stream is seeded apart from the main phase's (job.seed + this). Kept from when
# the warm-up had a code path of its own: any other value changes the weights of an adaptation that
# warms up with dropout > 0 (no shipped study does: their models have no dropout).
WARMUP_SEED_OFFSET = 7


class Batches(Protocol):
    """step -> that step's batch (a pure function of the step), and this rank's share of every batch."""

    def __call__(self, step: int) -> ModelBatch: ...

    def shard(self, rank: int, world_size: int) -> Batches: ...


@dataclass(frozen=True)
class FrozenWarmup:
    """``steps`` steps, before the main phase, that train only part of the model with an optimizer of
    their own (T5Gemma's warm-up of randomly initialised cross-attention): within ``freeze(model)`` only
    that part requires grad (e.g. :func:`pretrainlab.adaptation.freeze.trainable_only`)."""

    steps: int
    freeze: Callable[[torch.nn.Module], AbstractContextManager[object]]


@dataclass(frozen=True)
class TrainingJob:
    """Everything a training stage decides; :func:`run_job` does the rest."""

    model: PreTrainedModel
    plan: CellPlan  # the main phase's steps (``plan.steps``) and what a step costs
    batches: Batches
    val_batches: list[ModelBatch]
    optimizer: OptimizerConfig
    seed: int  # dropout and any other torch randomness in the loop
    fingerprint: str  # of the params and data: a checkpoint made with others is never resumed
    card: ModelCard
    outputs: CellOutputs
    # (params key, value) pairs that size a batch, the batch-size key first: named when memory runs out
    batch_keys: tuple[tuple[str, int], ...]
    warmup: FrozenWarmup | None = None
    tokenizer_dir: Path = paths.TOKENIZER  # copied beside the weights
    eval_at: tuple[SnapshotPoint, ...] = ()  # snapshots kept beside the final model (the stage's eval_at)


def curve_strides(steps: int) -> tuple[int, int]:
    """(eval_every, record_every): about 10 validation points and 200 curve rows, whatever the length."""
    return max(1, steps // 10), max(1, steps // 200)


def run_job(
    job: TrainingJob, resources: ResourcesConfig, tracked: TrackedRun | None = None
) -> dict[str, Any]:
    """Train ``job`` (resuming a matching checkpoint) and publish its outputs; returns its metrics.
    ``tracked``: the study's experiment trackers and the stage's params, which rank 0 logs to."""
    world = World.from_env(distributed.parallelism_of(resources))
    if job.plan.batch_size < world.world_size:
        key, value = job.batch_keys[0]
        raise UserInputError(
            f"{key}: {value} gives {job.plan.batch_size} sequence(s) per step, fewer than the "
            f"{world.world_size} processes ({_processes_key(resources)}) that split it"
        )
    runtime = resolve_runtime(resources.device, resources.precision)
    runtime = replace(runtime, device=distributed.device_for(world, runtime.device))
    distributed.init_process_group(world, runtime.device)
    checkpointer = Checkpointer(job.outputs.checkpoints, job.fingerprint, writer=world.is_main)
    card = job.card.as_json(job.fingerprint)
    if job.eval_at:  # the evaluate stage checks that each is there (no key: the card of before eval_at)
        card["eval_at"] = [point.eval_at_tokens for point in job.eval_at]
    snapshots = SnapshotWriter(job.outputs.checkpoints / SNAPSHOTS, job.eval_at, card, job.tokenizer_dir)
    _log_start(job.plan, runtime, world)
    # rank 0 logs to the study's trackers (none: a tracker that does nothing)
    tracker = (
        tracked.start(job.card.kind, job.card.name, job.fingerprint)
        if tracked and world.is_main
        else Tracker()
    )
    with tracker:  # ended (failed, if the job raises) before the stage exits
        try:
            if job.warmup is not None and checkpointer.latest() is None:
                warm_up(job, job.warmup, runtime, resources, world)
            snapshotting = snapshots if job.eval_at else None
            trainer = main_phase(job, runtime, resources, world, checkpointer, snapshotting, tracker)
            result = trainer.fit()
        except OutOfMemory as error:
            raise UserInputError(out_of_memory_message(error, job.batch_keys)) from None
        except CompileFailed as error:
            raise UserInputError(f"resources.compile: {error}; set resources.compile: false") from error
        except Preempted as stopped:  # a SLURM job's signal: its requeued job resumes from this checkpoint
            if world.is_main:
                log.info("%s", stopped)
            raise SystemExit(PREEMPTED_EXIT_CODE) from None
        metrics = cell_metrics(job.plan, result, str(runtime.device), world.world_size)
        # FSDP holds shards: gather the full weights (every rank takes part) for rank 0 to save
        sharded = world.parallelism == "fsdp" and world.distributed
        full_state = distributed.full_model_state(trainer.model) if sharded else None
        if world.is_main:
            publish(
                distributed.unwrap(trainer.model),
                metrics,
                result.history,
                job.outputs,
                tokenizer_dir=job.tokenizer_dir,
                card=card,
                checkpointer=checkpointer,
                full_state=full_state,
                snapshots=snapshots.folders(),
            )
            tracker.log_summary(metrics.as_json())
        distributed.barrier(world)
    return metrics.as_json()


def warm_up(
    job: TrainingJob, warmup: FrozenWarmup, runtime: Runtime, resources: ResourcesConfig, world: World
) -> None:
    """The frozen warm-up, before the main phase's first checkpoint exists (a resumed run has done it).

    Its steps come out of the job's budget and use the job's optimizer settings. Every rank runs them
    on the whole global batch (the same computation), on its own device, so that the main phase's
    wrapping (DDP, FSDP2) happens once, over a model whose every parameter trains.
    """
    config = LoopConfig(
        arch=job.plan.arch,
        steps=warmup.steps,
        optimizer=job.optimizer,
        flops_per_step=job.plan.flops_per_step,
        eval_every=warmup.steps,
        record_every=warmup.steps,
        seed=job.seed + WARMUP_SEED_OFFSET,
        log_interval=resources.log_interval,
        checkpoint_interval=resources.checkpoint_interval,
        progress=world.is_main,
        compile=resources.compile,
    )
    with warmup.freeze(job.model):
        Trainer(job.model, config, runtime, job.batches, lambda: job.val_batches).fit()


def main_phase(
    job: TrainingJob,
    runtime: Runtime,
    resources: ResourcesConfig,
    world: World,
    checkpointer: Checkpointer,
    snapshots: SnapshotWriter | None = None,
    tracker: Tracker | None = None,
) -> Trainer:
    """The trainer of the main phase: ``plan.steps`` steps of the whole model, checkpointed (and
    snapshotted at the job's ``eval_at`` points)."""
    eval_every, record_every = curve_strides(job.plan.steps)
    config = LoopConfig(
        arch=job.plan.arch,
        steps=job.plan.steps,
        optimizer=job.optimizer,
        flops_per_step=job.plan.flops_per_step,
        eval_every=eval_every,
        record_every=record_every,
        seed=job.seed,
        log_interval=resources.log_interval,
        checkpoint_interval=resources.checkpoint_interval,
        compile=resources.compile,
    )
    batches = job.batches.shard(world.rank, world.world_size) if world.distributed else job.batches
    return Trainer(
        job.model, config, runtime, batches, lambda: job.val_batches, checkpointer, world, snapshots, tracker
    )


def out_of_memory_message(error: OutOfMemory, batch_keys: tuple[tuple[str, int], ...]) -> str:
    """The loop's out-of-memory, with the keys that size a batch and a smaller value to try."""
    sizes = ", ".join(f"{key}={value}" for key, value in batch_keys)
    key, value = batch_keys[0]
    return f"{error} with {sizes}: set a smaller {key} (e.g. {max(1, value // 2)})"


def _log_start(plan: CellPlan, runtime: Runtime, world: World) -> None:
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


def _processes_key(resources: ResourcesConfig) -> str:
    """The keys that set the number of processes, as a user would look them up."""
    if resources.nnodes > 1:
        return "resources.nnodes x resources.nproc_per_node"
    return "resources.nproc_per_node"
