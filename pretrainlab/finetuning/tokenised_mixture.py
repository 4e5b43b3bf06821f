"""A tokenised finetuning mixture on disk, read back memory-mapped: a 10 GB mixture never sits in memory.

A folder holds ``tokens.bin`` (int32: each example's inputs then its targets, example after example),
``index.bin`` (int64 rows ``offset, inputs, targets, task``) and ``tasks.json`` (each task's name,
cluster, rows ``n`` and examples taken ``k``). :class:`MixtureWriter` appends examples as they are
tokenised; :class:`TokenisedMixture` is a ``Sequence[Example]`` over them in a seeded order, sliced
without copying, whose lengths come from the index without building an example.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from pretrainlab.atomic import write_json
from pretrainlab.objectives.example import Example

TOKENS, INDEX, TASKS = "tokens.bin", "index.bin", "tasks.json"
_COLUMNS = 4  # offset, inputs, targets, task


class MixtureWriter:
    """Append laid-out examples task by task into ``folder``; :meth:`close` writes ``tasks.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._tokens = open(self.folder / TOKENS, "wb")  # noqa: SIM115 - closed by close()
        self._index = open(self.folder / INDEX, "wb")  # noqa: SIM115
        self.offset = 0
        self.tasks: list[dict[str, Any]] = []

    def add(self, examples: Iterable[Example], task: int | Sequence[int]) -> int:
        """Append ``examples``, all of task ``task`` (an index into the tasks of :meth:`close`) or each of
        its own; returns how many."""
        rows = []
        for i, example in enumerate(examples):
            if example.aligned_labels is not None:
                raise ValueError("MTF examples have targets, not aligned labels")
            n_in, n_tgt = len(example.inputs), len(example.targets)
            np.concatenate([example.inputs, example.targets]).astype(np.int32).tofile(self._tokens)
            rows.append((self.offset, n_in, n_tgt, task if isinstance(task, int) else task[i]))
            self.offset += n_in + n_tgt
        if rows:
            np.asarray(rows, dtype=np.int64).tofile(self._index)
        return len(rows)

    def close(self, tasks: list[dict[str, Any]]) -> None:
        self._tokens.close()
        self._index.close()
        write_json(self.folder / TASKS, tasks)

    def abort(self) -> None:
        self._tokens.close()
        self._index.close()


class TokenisedMixture(Sequence[Example]):
    """The examples of a written mixture, in the order ``positions`` (:meth:`open`: a ``seed``-ed
    shuffle, or the written order)."""

    def __init__(self, tokens: np.ndarray, entries: np.ndarray, tasks: list[dict], positions: np.ndarray):
        self.tokens, self.entries, self.tasks, self.positions = tokens, entries, tasks, positions

    @classmethod
    def open(cls, folder: Path, seed: int | None) -> TokenisedMixture:
        folder = Path(folder)
        tasks = json.loads((folder / TASKS).read_text())
        index = np.fromfile(folder / INDEX, dtype=np.int64).reshape(-1, _COLUMNS)
        size = (folder / TOKENS).stat().st_size
        tokens = np.memmap(folder / TOKENS, dtype=np.int32, mode="r") if size else np.zeros(0, np.int32)
        n = len(index)
        positions = np.arange(n) if seed is None else np.random.default_rng([seed, 0x313]).permutation(n)
        return cls(tokens, index, tasks, positions)

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, i: int) -> Example: ...
    @overload
    def __getitem__(self, i: slice) -> TokenisedMixture: ...
    def __getitem__(self, i: int | slice) -> Example | TokenisedMixture:
        if isinstance(i, slice):
            return TokenisedMixture(self.tokens, self.entries, self.tasks, self.positions[i])
        offset, n_in, n_tgt, _ = self.entries[self.positions[i]]
        ids = np.asarray(self.tokens[offset : offset + n_in + n_tgt], dtype=np.int64)
        return Example(inputs=ids[:n_in], targets=ids[n_in:])

    def input_lengths(self) -> np.ndarray:
        return self.entries[self.positions, 1]

    def target_lengths(self) -> np.ndarray:
        return self.entries[self.positions, 2]

    def task_counts(self) -> dict[str, int]:
        """Examples per task name, over this view."""
        counts = np.bincount(self.entries[self.positions, 3], minlength=len(self.tasks))
        return {task["name"]: int(c) for task, c in zip(self.tasks, counts, strict=True)}


def example_lengths(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    """(input lengths, target lengths): from the index for a :class:`TokenisedMixture`, else counted."""
    if isinstance(examples, TokenisedMixture):
        return examples.input_lengths(), examples.target_lengths()
    n_in = np.fromiter((len(e.inputs) for e in examples), dtype=np.int64, count=len(examples))
    n_tgt = np.fromiter((len(e.targets) for e in examples), dtype=np.int64, count=len(examples))
    return n_in, n_tgt
