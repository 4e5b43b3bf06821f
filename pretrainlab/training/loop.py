"""The training loop shared by pretrain, adapt and finetune: AdamW, warm-up + decay, clipping,
deterministic data, atomic checkpoints and bit-exact resume.

What a step does is visible in a few lines of :meth:`Trainer.step`; everything else (where batches
come from, how the objective lays out on the architecture, how state is saved) is a collaborator.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from pretrainlab.config.schema import OptimizerConfig
from pretrainlab.models import layout
from pretrainlab.models.layout import ModelBatch, forward_logits
from pretrainlab.training.checkpoint import Checkpointer, TrainerState
from pretrainlab.training.device import Runtime
from pretrainlab.training.schedule import lr_multiplier

log = logging.getLogger(__name__)

BatchFn = Callable[[int], ModelBatch]  # step -> the batch of that step (pure function of the step)


@dataclass(frozen=True)
class LoopConfig:
    arch: str
    steps: int
    optimizer: OptimizerConfig
    flops_per_step: float
    eval_every: int  # steps between validation losses (fixed by the budget, not operational)
    record_every: int  # steps between rows of the loss curve (fixed by the budget, not operational)
    seed: int = 0  # dropout and any other torch randomness in the loop
    log_interval: int = 10  # operational: console logging only
    checkpoint_interval: int = 100  # operational
    progress: bool = True


@dataclass
class LoopResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    train_seconds: float = 0.0
    final_train_loss: float = math.nan
    final_val_loss: float = math.nan

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


class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        config: LoopConfig,
        runtime: Runtime,
        train_batch: BatchFn,
        val_batches: Callable[[], list[ModelBatch]],
        checkpointer: Checkpointer | None = None,
    ):
        self.model = model.to(runtime.device)
        self.config = config
        self.runtime = runtime
        self.train_batch = train_batch
        self.val_batches = val_batches
        self.checkpointer = checkpointer
        self.optimizer = build_optimizer(self.model, config.optimizer, runtime.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_multiplier(step, config.steps, config.optimizer)
        )

    # ------------------------------------------------------------------------------------ one step
    def step(self, batch: ModelBatch) -> float:
        self.model.train()
        batch = batch.to(self.runtime.device)
        with self.runtime.autocast():
            loss = layout.loss(forward_logits(self.model, self.config.arch, batch), batch.labels)
        loss.backward()
        if self.config.optimizer.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optimizer.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()

    @torch.no_grad()
    def validate(self) -> float:
        self.model.eval()
        total, count = 0.0, 0
        for batch in self.val_batches():
            batch = batch.to(self.runtime.device)
            with self.runtime.autocast():
                logits = forward_logits(self.model, self.config.arch, batch)
            n = int((batch.labels != -100).sum())
            total += layout.loss(logits.float(), batch.labels).item() * n
            count += n
        return total / max(count, 1)

    # ------------------------------------------------------------------------------------ state
    def _state(self) -> dict[str, Any]:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def _restore(self, tensors: dict[str, Any]) -> None:
        self.model.load_state_dict(tensors["model"])
        self.optimizer.load_state_dict(tensors["optimizer"])
        self.scheduler.load_state_dict(tensors["scheduler"])
        torch.set_rng_state(tensors["rng"])
        if "cuda_rng" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(tensors["cuda_rng"])

    # ------------------------------------------------------------------------------------ the loop
    def fit(self) -> LoopResult:
        cfg = self.config
        result = LoopResult()
        start_step = 0
        torch.manual_seed(cfg.seed)  # a fresh run's dropout stream; a resumed run restores its own below
        if self.checkpointer is not None and (resumed := self.checkpointer.latest()) is not None:
            self._restore(resumed.tensors)
            start_step = resumed.trainer.step
            result.history = resumed.trainer.history
            result.tokens = int(resumed.trainer.extra.get("tokens", 0))
        recent: list[float] = []
        with _progress(cfg.progress) as progress:
            task = progress.add_task("train", total=cfg.steps, completed=start_step, loss=math.nan)
            for step in range(start_step, cfg.steps):
                batch = self.train_batch(step)
                t0 = time.perf_counter()
                loss = self.step(batch)
                if self.runtime.device.type == "cuda":
                    torch.cuda.synchronize()
                result.train_seconds += time.perf_counter() - t0
                result.tokens += batch.num_real_tokens
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss} at step {step}")
                recent.append(loss)
                done = step + 1
                row: dict[str, Any] | None = None
                if done % cfg.record_every == 0 or done == cfg.steps:
                    row = {
                        "step": done,
                        "tokens": result.tokens,
                        "train_loss": loss,
                        "val_loss": None,
                        "lr": self.scheduler.get_last_lr()[0],
                    }
                if done % cfg.eval_every == 0 or done == cfg.steps:
                    row = row or {
                        "step": done,
                        "tokens": result.tokens,
                        "train_loss": loss,
                        "val_loss": None,
                        "lr": self.scheduler.get_last_lr()[0],
                    }
                    row["val_loss"] = self.validate()
                if row is not None:
                    result.history.append(row)
                if done % cfg.log_interval == 0 or done == cfg.steps:
                    self._log(done, recent, result)
                    recent = []
                progress.update(task, completed=done, loss=loss)
                if self.checkpointer is not None and done % cfg.checkpoint_interval == 0 and done < cfg.steps:
                    self._save(done, result)
        result.final_train_loss = result.history[-1]["train_loss"]
        result.final_val_loss = result.history[-1]["val_loss"]
        return result

    def _save(self, done: int, result: LoopResult) -> None:
        assert self.checkpointer is not None
        trainer = TrainerState(
            done, self.checkpointer.fingerprint, list(result.history), {"tokens": result.tokens}
        )
        self.checkpointer.save(trainer, self._state())

    def _log(self, done: int, recent: list[float], result: LoopResult) -> None:
        mfu = ""
        if self.runtime.device.type == "cuda" and result.train_seconds > 0:
            from pretrainlab.training.mfu import model_flops_utilization

            achieved = self.config.flops_per_step * done / result.train_seconds
            mfu = f" mfu={model_flops_utilization(achieved):.1%}"
        log.info(
            "step %d/%d loss=%.4f tokens=%d tok/s=%.0f%s",
            done,
            self.config.steps,
            sum(recent) / max(len(recent), 1),
            result.tokens,
            result.tokens_per_second,
            mfu,
        )


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} loss={task.fields[loss]:.3f}"),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )
