"""Parquet shards of a corpus split: ``<split>/part-00000.parquet ...`` with columns ``text``, ``source``.

:class:`ShardWriter` rolls over to a new file at ``max_documents`` documents or ``max_bytes`` bytes of
text, whichever comes first, so any shard can be loaded whole; :func:`iter_texts` streams a split back
in record batches for tokenizer training and encoding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pretrainlab.corpus.cleaning import TEXT
from pretrainlab.errors import UserInputError

SOURCE = "source"
SCHEMA = pa.schema([pa.field(TEXT, pa.string()), pa.field(SOURCE, pa.string())])
SHARD_PATTERN = "part-*.parquet"


class ShardWriter:
    """Append batches to ``folder/part-NNNNN.parquet`` files of bounded size.

    Row groups are compressed and written by a background thread (Arrow releases the GIL), one at a
    time and in order, so the caller goes on with its next batch meanwhile; :meth:`close` waits for
    them and raises a failed write's error. Files are created and closed by the caller's thread only.
    """

    def __init__(
        self,
        folder: Path,
        max_documents: int = 50_000,
        max_bytes: int = 64 << 20,
        row_group_documents: int = 8192,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self.row_group_documents = row_group_documents
        self.paths: list[Path] = []
        self.documents = self.chars = self.bytes = 0
        self.origins: Counter[str] = Counter()  # documents written per ``source`` value
        self._writer: pq.ParquetWriter | None = None
        self._shard_documents = self._shard_bytes = 0
        self._pending: list[pa.Table] = []
        self._pending_documents = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="shard-writer")
        self._writing: Future[None] | None = None  # the row group being written

    def write(self, table: pa.Table) -> None:
        table = table.select(SCHEMA.names).cast(SCHEMA)
        for row in pc.value_counts(table.column(SOURCE)).to_pylist():
            self.origins[row["values"]] += row["counts"]
        sizes = pc.binary_length(table.column(TEXT)).to_numpy().astype(np.int64)
        start = 0
        while start < table.num_rows:
            room = self.max_documents - self._shard_documents
            cumulative = np.cumsum(sizes[start : start + room])
            take = int(np.searchsorted(cumulative, self.max_bytes - self._shard_bytes, side="right"))
            if take == 0 and self._shard_documents == 0:
                take = 1  # one document larger than max_bytes gets a shard of its own
            if take > 0:
                self._append(table.slice(start, take), int(cumulative[take - 1]))
                start += take
            if start < table.num_rows or self._shard_documents >= self.max_documents:
                self._finish_shard()

    def _append(self, part: pa.Table, size: int) -> None:
        self._pending.append(part)
        self._pending_documents += part.num_rows
        self._shard_documents += part.num_rows
        self._shard_bytes += size
        self.documents += part.num_rows
        self.bytes += size
        self.chars += int(pc.sum(pc.utf8_length(part.column(TEXT))).as_py() or 0)
        if self._pending_documents >= self.row_group_documents:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending).combine_chunks()
        self._pending, self._pending_documents = [], 0
        self._wait()  # one row group in flight at most: memory stays bounded
        if self._writer is None:
            path = self.folder / f"part-{len(self.paths):05d}.parquet"
            self._writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
            self.paths.append(path)
        self._writing = self._thread.submit(self._writer.write_table, table)

    def _wait(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def _finish_shard(self) -> None:
        self._flush()
        self._wait()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._shard_documents = self._shard_bytes = 0

    def close(self) -> None:
        try:
            self._finish_shard()
        finally:
            self._thread.shutdown(wait=True)


def shard_paths(corpus_dir: Path, split: str) -> list[Path]:
    """The parquet shards of one split, in order; UserInputError if there are none."""
    folder = Path(corpus_dir) / split
    paths = sorted(folder.glob(SHARD_PATTERN))
    if not paths:
        raise UserInputError(f"{folder}: no {SHARD_PATTERN} shards (is {corpus_dir} a built corpus?)")
    return paths


def iter_texts(corpus_dir: Path, split: str, batch_size: int = 1024) -> Iterator[pa.Array]:
    """The ``text`` column of a split, one Arrow string array per record batch."""
    for batch in iter_batches(corpus_dir, split, [TEXT], batch_size):
        yield batch.column(0)


def iter_batches(
    corpus_dir: Path, split: str, columns: list[str], batch_size: int = 1024
) -> Iterator[pa.RecordBatch]:
    """The ``columns`` of a split (``text``, ``source``), one record batch at a time."""
    for path in shard_paths(corpus_dir, split):
        try:
            parquet = pq.ParquetFile(path)
            yield from parquet.iter_batches(batch_size=batch_size, columns=columns)
        except (pa.ArrowInvalid, OSError, KeyError) as err:
            raise UserInputError(f"{path}: not a readable corpus shard ({err})") from err
