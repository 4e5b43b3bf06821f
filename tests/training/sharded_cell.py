"""Tiny FSDP cells under torchrun for the sharded-checkpoint tests (run from the repository root)::

    torchrun --nproc_per_node 2 -m tests.training.sharded_cell --steps 6 --train A --train B:3 --train C=B

Each ``--train OUT[:STOP][=FROM]`` trains :func:`tests.training.tiny_cell.run` with FSDP into OUT, one
after the other in the same process group; with STOP, every rank stops (exit 0) right after the
checkpoint of step STOP, as a killed job would leave it; with FROM, OUT starts as a copy of FROM.
Rank 0 appends to ``OUT/saves.jsonl``, for every checkpoint, the elements of the tensors it handed to
torch.distributed.checkpoint against the whole state's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import torch.distributed as dist

from pretrainlab.training import sharded_state
from tests.training import tiny_cell


class Stopped(Exception):
    pass


def _record_saves(out: Path, stop: int | None) -> None:
    def save(checkpointer, trainer, extras, tensors, world, device):
        final = original(checkpointer, trainer, extras, tensors, world, device)
        if world.is_main:
            held, whole = sharded_state.shard_elements(tensors)
            with open(out / "saves.jsonl", "a") as handle:
                handle.write(json.dumps({"step": trainer.step, "held": held, "whole": whole}) + "\n")
        if trainer.step == stop:
            raise Stopped
        return final

    sharded_state.save = save  # type: ignore[assignment]


original = sharded_state.save


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--train", action="append", default=[], help="OUT[:STOP][=FROM]")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    for spec in args.train:
        spec, _, start = spec.partition("=")
        out, _, stop = spec.partition(":")
        if start:
            if int(os.environ["RANK"]) == 0:
                shutil.copytree(start, out)
            dist.barrier()  # the group of the cells before
        _record_saves(Path(out), int(stop) if stop else None)
        try:
            tiny_cell.run(Path(out), steps=args.steps, parallelism="fsdp")
        except Stopped:
            print(f"stopped {out}", flush=True)


if __name__ == "__main__":
    main()
