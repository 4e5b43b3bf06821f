"""Read back a W&B offline run (``<dir>/wandb/offline-run-*/run-<id>.wandb``): the records the client
wrote, as protobufs, from the LevelDB-log framing the file uses (a 7-byte ``:W&B`` header, then 32 KiB
blocks of chunks with a 7-byte header each: checksum, length, type). wandb ships no reader for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[Any]:
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path}: not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + HEADER : pos + HEADER + length], pos + HEADER + length
        if kind == 0:  # zero padding at the end
            break
        pending += chunk
        if kind in (FULL, LAST):
            yield Record.FromString(pending)
            pending = b""


def _items(items: Any) -> dict[str, Any]:
    """``{key: value}`` of a record's items (a key is ``key``, or ``nested_key`` for some records)."""
    return {item.key or ".".join(item.nested_key): json.loads(item.value_json) for item in items}


def offline_run(root: Path) -> dict[str, Any]:
    """The one offline run under ``root``: its name, group, config, history rows and summary."""
    (run_file,) = root.glob("wandb/offline-run-*/run-*.wandb")
    run: dict[str, Any] = {"config": {}, "history": [], "summary": {}}
    for record in records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(name=record.run.display_name, group=record.run.run_group)
            run["config"].update(_items(record.run.config.update))
        elif kind == "config":
            run["config"].update(_items(record.config.update))
        elif kind == "history":
            run["history"].append(_items(record.history.item))
        elif kind == "summary":
            run["summary"].update(_items(record.summary.update))
    return run
