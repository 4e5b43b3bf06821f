"""The training loop shared by pretrain, adapt and finetune: AdamW, warm-up + decay, clipping,
deterministic data, atomic checkpoints and bit-exact resume, on one process or many.

What a step does is visible in a few lines of :meth:`Trainer.step`; everything else (where batches
come from, how the objective lays out on the architecture, how state is saved, how ranks talk) is a
collaborator. The loss of a step is the mean over every non-ignored token of the *global* batch:
each rank sums its token losses, the token count is all-reduced first, and ranks backpropagate
``world_size · local_sum / global_count`` because DDP and FSDP2 average gradients — so ``w``
processes follow the one-process loss curve (up to float summation order).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from pretrainlab.config.schema import OptimizerConfig
from pretrainlab.models.layout import ModelBatch, forward_logits
from pretrainlab.objectives.example import IGNORE
from pretrainlab.training import distributed, sharded_state
from pretrainlab.training.checkpoint import Checkpointer, TrainerState
from pretrainlab.training.device import Runtime
from pretrainlab.training.distributed import World
from pretrainlab.training.mfu import model_flops_utilization
from pretrainlab.training.preemption import CheckpointRequest, Preempted
from pretrainlab.training.schedule import lr_multiplier

if TYPE_CHECKING:
    from pretrainlab.tracking.tracker import Tracker
    from pretrainlab.training.snapshots import SnapshotWriter

log = logging.getLogger(__name__)

BatchFn = Callable[[int], ModelBatch]  # step -> this rank's share of that step's batch (pure function)


@dataclass(frozen=True)
class LoopConfig:
    arch: str
    steps: int
    optimizer: OptimizerConfig
    flops_per_step: float  # of the global batch
    eval_every: int  # steps between validation losses (fixed by the budget, not operational)
    record_every: int  # steps between rows of the loss curve (fixed by the budget, not operational)
    seed: int = 0  # dropout and any other torch randomness in the loop
    log_interval: int = 10  # operational: console logging only
    checkpoint_interval: int = 100  # operational
    progress: bool = True
    compile: bool = False  # operational: torch.compile each transformer block


class OutOfMemory(Exception):
    """A step (or validation) ran out of accelerator memory: ``where`` and ``step`` say which; the caller
    names what sizes a batch."""

    def __init__(self, where: str, step: int):
        super().__init__(f"out of memory on {where} at step {step}")
        self.where, self.step = where, step


class CompileFailed(Exception):
    """``torch.compile`` failed at ``step`` (the loop's ``compile`` setting was on)."""

    def __init__(self, step: int, error: BaseException):
        first_line = (str(error).strip().splitlines() or [""])[0]
        super().__init__(f"torch.compile failed at step {step} ({type(error).__name__}: {first_line})")
        self.step = step


@dataclass
class LoopResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0  # data tokens of the global batches trained on
    train_seconds: float = 0.0  # across resumes
    final_train_loss: float = math.nan
    final_val_loss: float = math.nan
    mfu: float | None = None  # model FLOPs utilisation (None off CUDA or on an unknown GPU)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds > 0 else math.nan


def build_optimizer(
    model: torch.nn.Module, config: OptimizerConfig, device: torch.device
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (norm scales and biases are not decayed)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2), fused=fused)


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum of cross-entropy over the non-ignored labels (float32)."""
    return F.cross_entropy(
        logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum"
    )


def shard_rows(batch: ModelBatch, world: World) -> ModelBatch:
    """Rows ``rank, rank + w, ...`` of a global batch (every ModelBatch tensor is batch-first)."""
    if not world.distributed:
        return batch
    rows = {
        k: v[world.rank :: world.world_size] for k, v in vars(batch).items() if isinstance(v, torch.Tensor)
    }
    return replace(batch, **rows)


class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        config: LoopConfig,
        runtime: Runtime,
        train_batch: BatchFn,
        val_batches: Callable[[], list[ModelBatch]],
        checkpointer: Checkpointer | None = None,
        world: World | None = None,
        snapshots: SnapshotWriter | None = None,
        tracker: Tracker | None = None,
    ):
        self.config = config
        self.runtime = runtime
        self.world = world or World()
        self.model = distributed.parallelize(model.to(runtime.device), self.world, compile=config.compile)
        self.train_batch = train_batch
        self.val_batches = val_batches
        self.checkpointer = checkpointer
        self.snapshots = snapshots  # the model at declared steps (eval_at), before that step's checkpoint
        self.tracker = tracker  # experiment trackers (rank 0): the curve's rows and the logged speed
        # a SLURM job's preemption signal asks for a checkpoint now (None elsewhere: nothing to look for)
        self.preemption = CheckpointRequest.from_env() if checkpointer is not None else None
        self.optimizer = build_optimizer(self.model, config.optimizer, runtime.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_multiplier(step, config.steps, config.optimizer)
        )

    def _sum_over_ranks(self, values: list[float]) -> list[float]:
        local = torch.tensor(values, dtype=torch.float64)
        return distributed.all_reduce_sum(local, self.world, self.runtime.device).tolist()

    # ------------------------------------------------------------------------------------ one step
    def step(self, batch: ModelBatch) -> tuple[float, int]:
        """One optimizer step on this rank's share; returns (global mean loss, global data tokens)."""
        self.model.train()
        targets, tokens = self._sum_over_ranks([int((batch.labels != IGNORE).sum()), batch.num_real_tokens])
        batch = batch.to(self.runtime.device)
        with self.runtime.autocast():
            loss_sum = token_loss_sum(forward_logits(self.model, self.config.arch, batch), batch.labels)
        (loss_sum * (self.world.world_size / max(targets, 1.0))).backward()
        if self.config.optimizer.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optimizer.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        (total,) = self._sum_over_ranks([loss_sum.item()])
        return total / max(targets, 1.0), int(tokens)

    @torch.no_grad()
    def validate(self) -> float:
        """Mean token loss over the validation batches; each rank scores its rows of every batch."""
        self.model.eval()
        total, count = 0.0, 0
        for batch in self.val_batches():
            batch = shard_rows(batch, self.world).to(self.runtime.device)
            with self.runtime.autocast():
                logits = forward_logits(self.model, self.config.arch, batch)
            total += token_loss_sum(logits, batch.labels).item()
            count += int((batch.labels != IGNORE).sum())
        total, count = self._sum_over_ranks([total, count])
        return total / max(count, 1.0)

    # ------------------------------------------------------------------------------------ state
    def _rng_states(self) -> dict[str, torch.Tensor]:
        """Every rank's RNG state, stacked ``[world_size, n]`` (collective)."""
        device = self.runtime.device
        states = {"rng": distributed.gather_stack(torch.get_rng_state(), self.world, device)}
        if device.type == "cuda":
            states["cuda_rng"] = distributed.gather_stack(
                torch.cuda.get_rng_state(device), self.world, device
            )
        return states

    def _state(self) -> dict[str, Any]:
        """Full (unsharded) state; collective, the tensors land on rank 0 (FSDP: only there)."""
        return {
            "model": distributed.full_model_state(self.model),
            "optimizer": distributed.full_optimizer_state(self.model, self.optimizer),
            "scheduler": self.scheduler.state_dict(),
            **self._rng_states(),
        }

    @property
    def _sharded(self) -> bool:
        """FSDP over several processes checkpoints shards (DCP); anything else full state dicts."""
        return self.world.distributed and self.world.parallelism == "fsdp"

    def _restore(self, tensors: dict[str, Any], shards: Path | None = None) -> None:
        if shards is not None:  # written by FSDP ranks: DCP reshards it to this run's processes
            sharded_state.load(self.model, self.optimizer, shards, tensors["optimizer_groups"])
        else:
            distributed.load_full_state(self.model, self.optimizer, tensors["model"], tensors["optimizer"])
        self.scheduler.load_state_dict(tensors["scheduler"])
        rng = tensors["rng"] if tensors["rng"].dim() == 2 else tensors["rng"][None]
        if len(rng) != self.world.world_size:
            log.warning(
                "checkpoint made by %d process(es), resumed by %d: torch RNG (dropout) reseeded, so this "
                "run is not bit-identical to an uninterrupted one",
                len(rng),
                self.world.world_size,
            )
            torch.manual_seed(self.config.seed + self.world.rank)
            return
        # a copy: torch reads an RNG state from the start of its storage (rank 1's row would segfault)
        torch.set_rng_state(rng[self.world.rank].clone())
        if "cuda_rng" in tensors and self.runtime.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["cuda_rng"][self.world.rank].clone(), self.runtime.device)

    def _resume(self, result: LoopResult) -> int:
        """Restore the newest matching checkpoint (every rank reads the same one); the step to start at."""
        resumed = self.checkpointer.latest() if self.checkpointer is not None else None
        step = resumed.trainer.step if resumed is not None else 0
        if not distributed.same_on_all_ranks(step, self.world, self.runtime.device):
            raise RuntimeError(f"ranks found different checkpoints in {self.checkpointer.root}")
        if resumed is not None:
            self._restore(resumed.tensors, resumed.shards)
            result.history = resumed.trainer.history
            result.tokens = int(resumed.trainer.extra.get("tokens", 0))
            result.train_seconds = float(resumed.trainer.extra.get("train_seconds", 0.0))
        return step

    # ------------------------------------------------------------------------------------ the loop
    def fit(self) -> LoopResult:
        cfg = self.config
        result = LoopResult()
        # a fresh run's dropout streams (one per rank); a resumed run restores its own
        torch.manual_seed(cfg.seed + self.world.rank)
        start_step = self._resume(result)
        if self.tracker is not None:  # a resumed run's trackers get the curve up to its checkpoint
            for row in result.history:
                self.tracker.log_metrics(row["step"], {k: v for k, v in row.items() if k != "step"})
        if self.snapshots is not None and self.world.is_main:
            self.snapshots.resume_at(start_step)
        recent: list[float] = []
        with _progress(cfg.progress and self.world.is_main) as progress:
            task = progress.add_task("train", total=cfg.steps, completed=start_step, loss=math.nan)
            for step in range(start_step, cfg.steps):
                batch = self.train_batch(step)
                t0 = time.perf_counter()
                with self._user_errors(step):
                    loss, tokens = self.step(batch)
                if self.runtime.device.type == "cuda":
                    torch.cuda.synchronize()
                result.train_seconds += time.perf_counter() - t0
                result.tokens += tokens
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss} at step {step}")
                recent.append(loss)
                done = step + 1
                row: dict[str, Any] | None = None
                if done % cfg.record_every == 0 or done % cfg.eval_every == 0 or done == cfg.steps:
                    row = {
                        "step": done,
                        "tokens": result.tokens,
                        "train_loss": loss,
                        "val_loss": None,
                        "lr": self.scheduler.get_last_lr()[0],
                    }
                if done % cfg.eval_every == 0 or done == cfg.steps:
                    with self._user_errors(step):
                        row["val_loss"] = self.validate()  # type: ignore[index]
                if row is not None:
                    result.history.append(row)
                tracked = {k: v for k, v in (row or {}).items() if k != "step"}
                if done % cfg.log_interval == 0 or done == cfg.steps:
                    result.mfu = self._mfu(done, result)
                    self._log(done, recent, result)
                    recent = []
                    tracked.update(tokens_per_second=result.tokens_per_second, mfu=result.mfu)
                if self.tracker is not None and tracked:
                    self.tracker.log_metrics(done, tracked)  # queued: the trackers work on their own thread
                progress.update(task, completed=done, loss=loss)
                if self.snapshots is not None and done in self.snapshots.steps:
                    self._snapshot(done)
                periodic = done % cfg.checkpoint_interval == 0 and done < cfg.steps
                if self.checkpointer is not None and periodic:
                    self._save(done, result)
                if self.preemption is not None and done < cfg.steps and self._preempted():
                    self._stop_on_preemption(done, result, saved=periodic)
        result.final_train_loss = result.history[-1]["train_loss"]
        result.final_val_loss = result.history[-1]["val_loss"]
        return result

    def _preempted(self) -> bool:
        """Whether any rank finds the preemption request (collective: the ranks stop together)."""
        assert self.preemption is not None
        (asking,) = self._sum_over_ranks([float(self.preemption.asked())])
        return asking > 0

    def _stop_on_preemption(self, done: int, result: LoopResult, saved: bool) -> None:
        """Checkpoint step ``done`` (unless it just was), acknowledge it (rank 0), and stop."""
        assert self.preemption is not None
        if not saved:
            self._save(done, result)
        if self.world.is_main:
            self.preemption.acknowledge(done)
        raise Preempted(done)

    def _save(self, done: int, result: LoopResult) -> None:
        assert self.checkpointer is not None
        extra = {"tokens": result.tokens, "train_seconds": result.train_seconds}
        trainer = TrainerState(done, self.checkpointer.fingerprint, list(result.history), extra)
        if self._sharded:  # each rank writes its shards: nothing is gathered
            tensors, groups = sharded_state.sharded_state(self.model, self.optimizer)
            extras = {"optimizer_groups": groups, "scheduler": self.scheduler.state_dict()}
            extras.update(self._rng_states())  # collective
            sharded_state.save(self.checkpointer, trainer, extras, tensors, self.world, self.runtime.device)
            return
        state = self._state()  # collective: every rank takes part, rank 0 writes
        if self.world.is_main:
            self.checkpointer.save(trainer, state)

    def _snapshot(self, done: int) -> None:
        assert self.snapshots is not None
        state = distributed.full_model_state(self.model)  # collective: every rank takes part, rank 0 writes
        if self.world.is_main:
            self.snapshots.save(done, distributed.unwrap(self.model), state)

    def _mfu(self, done: int, result: LoopResult) -> float | None:
        """Achieved FLOP/s per GPU over its bf16 peak (DESIGN convention for FLOPs); None off CUDA."""
        if self.runtime.device.type != "cuda" or result.train_seconds <= 0:
            return None
        achieved = self.config.flops_per_step * done / result.train_seconds / self.world.world_size
        mfu = model_flops_utilization(achieved)
        return None if math.isnan(mfu) else mfu

    def _log(self, done: int, recent: list[float], result: LoopResult) -> None:
        log.info(
            "step %d/%d loss=%.4f tokens=%d tok/s=%.0f%s",
            done,
            self.config.steps,
            sum(recent) / max(len(recent), 1),
            result.tokens,
            result.tokens_per_second,
            "" if result.mfu is None else f" mfu={result.mfu:.1%}",
        )

    @contextlib.contextmanager
    def _user_errors(self, step: int) -> Iterator[None]:
        """Out of memory becomes :class:`OutOfMemory`, a failed ``torch.compile`` :class:`CompileFailed`."""
        try:
            yield
        except torch.OutOfMemoryError:
            where = f"{self.runtime.device}"
            if self.world.distributed:
                where += f" (rank {self.world.rank} of {self.world.world_size})"
            raise OutOfMemory(where, step) from None
        except Exception as error:
            if not (self.config.compile and _is_compile_error(error)):
                raise
            raise CompileFailed(step, error) from error


def _is_compile_error(error: BaseException) -> bool:
    from torch._dynamo.exc import TorchDynamoException

    return isinstance(error, TorchDynamoException)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} loss={task.fields[loss]:.3f}"),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )
