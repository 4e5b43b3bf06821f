"""Rows of a prompted dataset (P3-style: a rendered prompt, its target, maybe answer choices), streamed.

A source is opened through the corpus's reader (:mod:`pretrainlab.corpus.sources`: a hub id, a local
folder or a ``save_to_disk`` directory, and its "what to download" message offline); ``files`` sources
are Parquet or JSON-lines files matched by the same globbing, each file streamed by ``datasets``. Rows
come in column batches of :data:`BATCH_ROWS`, so at most one batch of a source is in memory.

Bad input raises :class:`~pretrainlab.errors.UserInputError` naming the key (``finetune.x.sources[0]``)
or the file: a missing column (with the columns present), a row without a prompt or target, a
rank-classification row without choices or whose target is not one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pretrainlab.config.schema import (
    FilesSource,
    HFSource,
    PromptedDiskSource,
    PromptedFilesSource,
    PromptedHFSource,
)
from pretrainlab.corpus.sources import _open_hf, file_format, match_files
from pretrainlab.errors import UserInputError

BATCH_ROWS = 1024
RealSource = PromptedHFSource | PromptedFilesSource | PromptedDiskSource
_BUILDERS = {"jsonl": "json", "parquet": "parquet"}


def _wanted(source: RealSource) -> list[str]:
    cols = source.columns
    return [cols.inputs, cols.targets] + ([cols.choices] if source.rank_classification else [])


def _parts(source: RealSource, key: str, root: Path) -> list[tuple[str, Any]]:
    """(where, dataset) pairs: one per file of a ``files`` source, one for the other kinds."""
    import datasets

    if isinstance(source, PromptedFilesSource):
        files = match_files(FilesSource(kind="files", glob=source.glob), f"{key}", root)
        parts = []
        for relative in files:
            builder = _BUILDERS.get(file_format(str(relative)) or "")
            if builder is None:
                raise UserInputError(f"{key}.glob: {relative} is not Parquet or JSON lines")
            data = datasets.load_dataset(
                builder, data_files=[str(root / relative)], split="train", streaming=True
            )
            parts.append((str(relative), data))
        return parts
    if isinstance(source, PromptedDiskSource):
        folder = Path(source.path).expanduser()
        folder = folder if folder.is_absolute() else root / folder
        if not ((folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file()):
            raise UserInputError(
                f"{key}.path: {source.path!r} is not a Dataset.save_to_disk directory (relative to {root})"
            )
        hf = HFSource(kind="hf", path=str(folder), split=source.split)
    else:
        hf = HFSource(
            kind="hf",
            path=source.path,
            name=source.name,
            split=source.split,
            data_files=source.data_files,
            streaming=source.streaming,
        )
    shown = (
        f"{source.path}/{source.name}"
        if isinstance(source, PromptedHFSource) and source.name
        else source.path
    )
    return [(f"dataset {shown!r}", _open_hf(hf, key, root))]


def _check_columns(present: list[str] | None, source: RealSource, key: str, where: str) -> None:
    if present is None:
        return
    for field, column in (("inputs", source.columns.inputs), ("targets", source.columns.targets)) + (
        (("choices", source.columns.choices),) if source.rank_classification else ()
    ):
        if column not in present:
            why = " (a rank-classification source needs its answer choices)" if field == "choices" else ""
            raise UserInputError(
                f"{key}.columns.{field}: {where} has no column {column!r}{why}; columns present: "
                f"{', '.join(sorted(present))}"
            )


class PromptedRows:
    """The rows of one source: :meth:`check` (columns), :meth:`count` and :meth:`batches`."""

    def __init__(self, source: RealSource, key: str, root: Path | None = None) -> None:
        self.source, self.key = source, key
        self.parts = _parts(source, key, Path.cwd() if root is None else Path(root))

    def check(self) -> None:
        """Every part has the source's columns (streamed parts: read from their first rows)."""
        for where, data in self.parts:
            present = data.column_names
            if present is None:
                first = next(iter(data.iter(batch_size=1)), None)
                present = [] if first is None else list(first)
            _check_columns(present, self.source, self.key, where)

    def count(self) -> int:
        """Rows of the source (an Arrow dataset knows; a stream is read once, one column)."""
        total = 0
        for _, data in self.parts:
            if hasattr(data, "num_rows") and data.num_rows is not None:
                total += data.num_rows
            else:
                column = self.source.columns.targets
                total += sum(len(b[column]) for b in data.select_columns([column]).iter(BATCH_ROWS))
        return total

    def batches(self) -> Iterator[dict[str, list]]:
        """``{"inputs", "targets", "choices"}`` column batches, checked row by row."""
        cols = self.source.columns
        row = 0
        for where, data in self.parts:
            known = data.column_names is not None  # a stream may learn its columns from its rows
            for batch in (data.select_columns(_wanted(self.source)) if known else data).iter(BATCH_ROWS):
                _check_columns(list(batch), self.source, self.key, where)
                out = {"inputs": batch[cols.inputs], "targets": batch[cols.targets], "choices": None}
                if self.source.rank_classification:
                    out["choices"] = batch[cols.choices]
                for i in range(len(out["inputs"])):
                    self._check_row(out, i, f"{where} row {row + i}")
                row += len(out["inputs"])
                yield out

    def _check_row(self, batch: dict[str, list], i: int, where: str) -> None:
        for field in ("inputs", "targets"):
            if not isinstance(batch[field][i], str):
                raise UserInputError(
                    f"{self.key}.columns.{field}: {where}: {getattr(self.source.columns, field)!r} holds "
                    f"{type(batch[field][i]).__name__}, not text"
                )
            if not batch[field][i].strip():
                raise UserInputError(
                    f"{self.key}.columns.{field}: {where}: {getattr(self.source.columns, field)!r} is empty"
                )
        if batch["choices"] is None:
            return
        choices = batch["choices"][i]
        if not choices or not all(isinstance(c, str) for c in choices):
            raise UserInputError(
                f"{self.key}.columns.choices: {where} has no answer choices in "
                f"{self.source.columns.choices!r} (rank_classification needs them)"
            )
        target = batch["targets"][i].strip()
        if target not in (c.strip() for c in choices):
            raise UserInputError(
                f"{self.key}.columns.targets: {where}: target {target!r} is not one of its choices {choices}"
            )
