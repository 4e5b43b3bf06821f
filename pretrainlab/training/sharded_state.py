"""An FSDP run's training state as shards, through ``torch.distributed.checkpoint`` (DCP): each rank
writes the parameter and optimizer-moment shards it holds (nothing is gathered), and a checkpoint
written by ``w`` ranks loads on any number of processes (DCP reshards on load).

Only tensors go through DCP. The optimizer's hyper-parameters (``param_groups``), the scheduler and
every rank's RNG travel beside the shards in the step directory (see
:class:`~pretrainlab.training.checkpoint.Checkpointer`). Reading unpickles nothing but DCP's own
metadata: its ``.metadata`` file goes through an unpickler that accepts only DCP's metadata classes
and torch's dtypes, and a checkpoint that asks for a pickled (non-tensor) value is refused.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import FileSystemReader, FileSystemWriter
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from pretrainlab.atomic import atomic_dir, temporary_sibling
from pretrainlab.training import distributed
from pretrainlab.training.checkpoint import Checkpointer, TrainerState
from pretrainlab.training.distributed import World

_DCP = "torch.distributed.checkpoint."
_TORCH_VALUES = (torch.dtype, torch.layout, torch.memory_format)
_PLAIN_GLOBALS = {  # what DCP's metadata holds besides its own classes (the checkpoint's path, layouts)
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("torch.serialization", "_get_layout"),
    ("collections", "OrderedDict"),
}


def sharded_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(this rank's shards of the model and optimizer tensors, keyed by parameter name; the optimizer's
    ``param_groups``). No communication: under FSDP2 the tensors are DTensors holding local shards."""
    model_state, optimizer_state = get_state_dict(distributed.unwrap(model), optimizer)
    optimizer_parts = cast(dict[str, Any], optimizer_state)
    return {"model": model_state, "optimizer": optimizer_parts["state"]}, optimizer_parts["param_groups"]


def save(
    checkpointer: Checkpointer,
    trainer: TrainerState,
    extras: dict[str, Any],
    tensors: dict[str, Any],
    world: World,
    device: torch.device,
) -> Path:
    """Write step ``trainer.step``: every rank writes its shards into rank 0's temporary directory, then
    rank 0 adds ``extras``, ``trainer.json`` and the completeness marker and renames it into place.
    Collective: every rank calls it with the same step."""
    final = checkpointer.step_dir(trainer.step)
    with atomic_dir(final) if world.is_main else contextlib.nullcontext() as created:
        # rank 0's temporary is named by its pid (a dead writer's is removed by the next writer)
        mine = torch.tensor([os.getpid() if world.is_main else 0], dtype=torch.int64)
        writer_pid = int(distributed.all_reduce_sum(mine, world, device)[0])
        folder = temporary_sibling(final).with_suffix(f".{writer_pid}")
        assert created is None or Path(created) == folder, (created, folder)
        dcp.save(tensors, storage_writer=FileSystemWriter(folder))
        if world.is_main:
            checkpointer.finish_sharded(folder, trainer, extras)
    if world.is_main:
        checkpointer.prune()
    distributed.barrier(world)
    return final


def load(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    folder: Path,
    param_groups: list[dict[str, Any]],
) -> None:
    """Read a sharded checkpoint into ``model`` and ``optimizer``, whatever the number of processes
    that wrote it: each rank reads the parts of every shard that its own tensors cover."""
    plain = distributed.unwrap(model)
    model_state, optimizer_state = get_state_dict(plain, optimizer)  # a fresh optimizer's moments: zeros
    tensors: dict[str, Any] = {"model": model_state, "optimizer": cast(dict, optimizer_state)["state"]}
    with warnings.catch_warnings():  # in one process DCP warns that it reads every shard: as intended
        warnings.filterwarnings("ignore", message="torch.distributed is disabled", category=UserWarning)
        dcp.load(tensors, storage_reader=MetadataOnlyReader(folder), planner=TensorsOnlyPlanner())
    set_state_dict(
        plain,
        optimizer,
        model_state_dict=tensors["model"],
        optim_state_dict={"state": tensors["optimizer"], "param_groups": param_groups},
    )


def shard_elements(tensors: dict[str, Any]) -> tuple[int, int]:
    """(elements this rank holds, elements of the whole state) of :func:`sharded_state`'s tensors."""
    held = whole = 0
    for value in _leaves(tensors):
        local = value.to_local() if hasattr(value, "to_local") else value
        held += local.numel()
        whole += value.numel()  # a DTensor's numel is its global one
    return held, whole


def _leaves(tree: Any) -> list[torch.Tensor]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in _leaves(value)]
    return [tree] if isinstance(tree, torch.Tensor) else []


# ---------------------------------------------------------------------------------------- safe reading
class _MetadataUnpickler(pickle.Unpickler):
    """Only DCP's metadata classes and torch's dtype/layout/memory-format values."""

    def find_class(self, module: str, name: str) -> Any:
        if "." not in name:
            if module.startswith(_DCP):
                found = super().find_class(module, name)
                if isinstance(found, type) and found.__module__.startswith(_DCP):
                    return found
            if module == "torch" and name == "Size":
                return torch.Size
            if module == "torch" and isinstance(getattr(torch, name, None), _TORCH_VALUES):
                return getattr(torch, name)
            if (module, name) in _PLAIN_GLOBALS:
                return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not checkpoint metadata: refused")


class MetadataOnlyReader(FileSystemReader):
    """DCP's file reader whose ``.metadata`` is unpickled with :class:`_MetadataUnpickler` (the shards
    themselves DCP already reads with ``torch.load(weights_only=True)``)."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        path = self._get_metadata_path(kwargs.get("rank"))
        with self.fs.create_stream(path, "rb") as handle:
            metadata = _MetadataUnpickler(handle).load()
        if not isinstance(metadata, Metadata):
            raise pickle.UnpicklingError(f"{path}: not DCP metadata")
        if metadata.storage_meta is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


class TensorsOnlyPlanner(DefaultLoadPlanner):
    """DCP's planner, refusing the pickled values it would otherwise ``torch.load`` without
    ``weights_only`` (this project writes only tensors through DCP)."""

    def load_bytes(self, read_item: Any, value: Any) -> None:
        raise ValueError(f"{read_item.dest_index.fqn}: a pickled value in a tensor-only checkpoint: refused")
