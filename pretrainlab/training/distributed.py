"""Data parallelism for the training loop: the process group, DDP / FSDP2 wrapping, collectives, and
state dicts that are the same whatever the wrapping (torchtitan's split: models know none of this).

A run of ``w`` processes (launched by :mod:`pretrainlab.training.launch`) trains on the same global
batch as one process: rank ``r`` takes examples ``r, r+w, ...`` and the loss is the sum of token
losses over the whole global batch divided by its global token count. Both DDP and FSDP2 *average*
gradients over ranks, so each rank backpropagates ``w · local_sum / global_count``.

DDP and single-process checkpoints hold *full* (unsharded, CPU) state dicts keyed by parameter name,
gathered with ``torch.distributed.checkpoint.state_dict`` (a collective: every rank calls it; only
rank 0 gets the tensors and writes). FSDP over several processes checkpoints shards instead
(:mod:`pretrainlab.training.sharded_state`); either kind resumes at any number of processes. The
final model is always gathered in full.
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

log = logging.getLogger(__name__)

PARALLELISMS = ("ddp", "fsdp")
_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass(frozen=True)
class World:
    """This process's place in the run (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    parallelism: str = "ddp"  # "ddp" | "fsdp"; irrelevant in one process

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, parallelism: str = "ddp") -> World:
        """Read torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (absent: a single process)."""
        return cls(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            parallelism=parallelism,
        )


def device_for(world: World, device: torch.device) -> torch.device:
    """Each CUDA rank owns GPU ``LOCAL_RANK``; CPU ranks share the CPU."""
    if device.type == "cuda" and world.distributed:
        return torch.device("cuda", world.local_rank)
    return device


def init_process_group(world: World, device: torch.device) -> None:
    """NCCL on CUDA, gloo on CPU; a no-op in one process or when already initialised."""
    if not world.distributed or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device, timeout=timedelta(minutes=30))
    else:
        dist.init_process_group("gloo", timeout=timedelta(minutes=30))
    atexit.register(shutdown)  # once per process: later cells of the same process reuse the group
    if not world.is_main:  # one copy of every message: rank 0 speaks for the run
        logging.getLogger().setLevel(logging.WARNING)
    log.info("process group: %d ranks (%s, %s)", world.world_size, dist.get_backend(), world.parallelism)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def parallelism_of(resources: Any) -> str:
    """``resources.parallelism`` ("ddp" or "fsdp"; "ddp" while the schema has no such key)."""
    from pretrainlab.errors import UserInputError

    value = resources.parallelism
    if value not in PARALLELISMS:
        raise UserInputError(f"resources.parallelism: {value!r} is not one of {', '.join(PARALLELISMS)}")
    return value


# ---------------------------------------------------------------------------------------- wrapping
def parallelize(model: torch.nn.Module, world: World, *, compile: bool = False) -> torch.nn.Module:
    """torchtitan's order: compile each transformer block, then FSDP2 (each block, then the root) or DDP.

    ``model`` must already be on its device. Compiling is per block (the code around the blocks —
    HF's mask building, output dataclasses — would only break graphs) and in place
    (``Module.compile``), so parameter names, state dicts and saved checkpoints are the plain model's.
    """
    if compile:
        for block in transformer_blocks(model):
            block.compile()
    if not world.distributed:
        return model
    if world.parallelism == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in transformer_blocks(model):
            fully_shard(block)
        fully_shard(model)  # the rest (embeddings tied with the LM head, final norms) as one group
        return model
    device_ids = (
        [model.device.index] if getattr(model, "device", torch.device("cpu")).type == "cuda" else None
    )
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def transformer_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated layers (every ``nn.ModuleList``'s items: decoder layers; encoder and decoder layers
    for the encoder-decoder): FSDP2 shards each as one all-gather unit."""
    return [
        block for module in model.modules() if isinstance(module, torch.nn.ModuleList) for block in module
    ]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model without its DDP wrapper (FSDP2 and ``Module.compile`` wrap in place)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


# ---------------------------------------------------------------------------------------- state
def full_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Full CPU state dict on rank 0 (empty elsewhere under FSDP). Collective when distributed.

    Tied parameters (embeddings and LM head) come back as one tensor under each name, as in
    ``model.state_dict()``, so ``save_pretrained`` recognises the tie and saves it once.
    """
    plain = unwrap(model)
    state = get_model_state_dict(plain, options=_FULL)
    names_by_param: dict[int, list[str]] = {}
    for name, param in plain.named_parameters(remove_duplicate=False):
        names_by_param.setdefault(id(param), []).append(name)
    for first, *others in names_by_param.values():
        for other in others:
            if first in state and other in state:
                state[other] = state[first]
    return state


def full_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Optimizer state keyed by parameter name (portable across world sizes). Collective."""
    return get_optimizer_state_dict(unwrap(model), optimizer, options=_FULL)


def load_full_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, model_state: dict, optimizer_state: dict
) -> None:
    """Every rank passes the same full state (each read the checkpoint); FSDP keeps its shard."""
    set_model_state_dict(unwrap(model), model_state, options=_FULL)
    set_optimizer_state_dict(unwrap(model), optimizer, optimizer_state, options=_FULL)


# ---------------------------------------------------------------------------------------- collectives
def all_reduce_sum(values: torch.Tensor, world: World, device: torch.device) -> torch.Tensor:
    """Sum ``values`` over ranks (returned on the CPU); the identity in one process."""
    if not world.distributed:
        return values
    reduced = values.to(device)
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced.cpu()


def gather_stack(value: torch.Tensor, world: World, device: torch.device) -> torch.Tensor:
    """``[world_size, *value.shape]``: every rank's ``value`` (same shape on every rank), on the CPU."""
    if not world.distributed:
        return value[None]
    local = value.to(device)
    parts = [torch.empty_like(local) for _ in range(world.world_size)]
    dist.all_gather(parts, local)
    return torch.stack([p.cpu() for p in parts])


def same_on_all_ranks(value: int, world: World, device: torch.device) -> bool:
    """Whether every rank passed the same ``value`` (collective)."""
    if not world.distributed:
        return True
    extremes = torch.tensor([value, -value], dtype=torch.int64, device=device)
    dist.all_reduce(extremes, op=dist.ReduceOp.MAX)  # [max, -min]
    return int(extremes[0]) == -int(extremes[1])


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
