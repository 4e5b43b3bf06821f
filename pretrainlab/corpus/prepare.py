"""The stateless half of the corpus build, run on batches in worker processes.

Everything a batch needs that depends on the batch alone — parsing JSON lines, cleaning, the length
filters, exact-dedup digests, MinHash signatures, split keys — is :class:`PrepareBatch`. What depends on the documents
seen before (the dedup state, the shard writers) stays in the build's process, which takes prepared
batches back in submission order, so the output is the same for any number of workers.

>>> from pretrainlab.corpus.sources import DocumentRun
>>> prepared = PrepareBatch(min_chars=3, max_chars=100, exact=True, hasher=None)(
...     RawBatch("corpus.sources[0]", [DocumentRun("files:a.txt", [" a  b ", "x", None, "  a b"])])
... )
>>> prepared.table.column("text").to_pylist(), prepared.too_short, prepared.invalid_utf8, len(prepared.digests)
(['a b', 'a b'], 1, 1, 2)
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import forkserver
from types import ModuleType
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa

from pretrainlab.corpus import cleaning
from pretrainlab.corpus.cleaning import TEXT
from pretrainlab.corpus.dedup import MinHasher, text_digests
from pretrainlab.corpus.shards import SCHEMA, SOURCE
from pretrainlab.corpus.sources import DocumentRun, texts_of
from pretrainlab.corpus.split import split_keys


@dataclass(frozen=True, eq=False)
class RawBatch:
    """Documents of one source as read (JSON lines not parsed yet), in stream order."""

    source: str  # its key, corpus.sources[i]
    runs: list[DocumentRun]

    def table(self) -> tuple[pa.Table, int]:
        """The ``text`` and ``source`` (origin) of the documents with valid UTF-8, and how many had not."""
        texts: list[str | None] = []
        origins: list[str] = []
        for run in self.runs:
            run_texts = texts_of(run)
            texts += run_texts
            origins += [run.origin] * len(run_texts)
        invalid = texts.count(None)
        if invalid:
            origins = [origin for origin, text in zip(origins, texts, strict=True) if text is not None]
            texts = [text for text in texts if text is not None]
        return pa.table({TEXT: texts, SOURCE: origins}, schema=SCHEMA), invalid


@dataclass(frozen=True, eq=False)
class PreparedBatch:
    source: str  # RawBatch.source
    table: pa.Table  # cleaned, within the length limits
    invalid_utf8: int
    too_short: int
    too_long: int
    digests: list[bytes] | None  # per row; None when exact dedup is off
    signatures: np.ndarray | None  # uint32 [rows, num_perm]; None when MinHash is off
    split_keys: np.ndarray  # float64 per row (see :mod:`~pretrainlab.corpus.split`)


@dataclass(frozen=True, eq=False)
class PrepareBatch:
    """Clean a raw batch and compute what the sequential filters and the split need (picklable)."""

    min_chars: int
    max_chars: int
    exact: bool
    hasher: MinHasher | None

    def __call__(self, batch: RawBatch) -> PreparedBatch:
        table, invalid = batch.table()
        table = cleaning.normalize_whitespace(cleaning.nfc(table))
        rows = table.num_rows
        table = cleaning.drop_too_short(table, self.min_chars)
        too_short = rows - table.num_rows
        rows = table.num_rows
        table = cleaning.drop_too_long(table, self.max_chars)
        too_long = rows - table.num_rows
        return PreparedBatch(
            source=batch.source,
            table=table,
            invalid_utf8=invalid,
            too_short=too_short,
            too_long=too_long,
            digests=text_digests(cleaning.utf8_texts(table)) if self.exact else None,
            signatures=self.hasher.signatures(table.column(TEXT).to_pylist()) if self.hasher else None,
            split_keys=split_keys(table),
        )


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


In = TypeVar("In")
Out = TypeVar("Out")


class OrderedPool(Generic[In, Out]):
    """Apply ``work`` to items in worker processes; ``consume`` gets the results in submission order.

    The first item runs in this process and the workers start only when a second one arrives, so a
    one-batch corpus (tests, tiny studies) never waits for them; the forkserver they fork from starts
    with the pool, in the background, so it is ready by then. At most ``2 * workers``
    items are in flight, which bounds memory. ``workers <= 1`` runs everything in this process.
    Workers are started with ``forkserver`` (``spawn`` where there is none): this process may hold
    Arrow or torch threads, which a plain ``fork`` would copy in an undefined state. Like any such
    pool, the workers re-import the main module: scripts need an ``if __name__ == "__main__":`` guard.
    """

    def __init__(self, work: Callable[[In], Out], consume: Callable[[Out], None], workers: int) -> None:
        self.work = work
        self.consume = consume
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._context = _worker_context(work) if workers > 1 else None
        if self._context is not None and self._context.get_start_method() == "forkserver":
            forkserver.ensure_running()  # starts in the background, while this process reads
        self._pending: deque[Future[Out]] = deque()
        self._submitted = 0

    def submit(self, item: In) -> None:
        self._submitted += 1
        if self.workers <= 1 or self._submitted == 1:
            self.consume(self.work(item))
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context)
        self._pending.append(self._pool.submit(self.work, item))
        while self._pending and (len(self._pending) > 2 * self.workers or self._pending[0].done()):
            self.consume(_result(self._pending.popleft()))

    def finish(self) -> None:
        """Consume every result still in flight and stop the workers."""
        try:
            while self._pending:
                self.consume(_result(self._pending.popleft()))
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers, dropping what is in flight (after an error)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()


def _worker_context(work: Callable[..., object]) -> multiprocessing.context.BaseContext:
    """``forkserver`` with ``work``'s module imported before forking (``spawn`` where there is none).

    Each worker is then forked with numpy, pyarrow (and the pandas it imports lazily) and the work's
    code already imported, instead of importing them itself (about 0.7 CPU-s per worker per build).
    Each worker also re-runs the main script, and Python 3.11's own ``"__main__"`` preload is a no-op,
    so the modules the main script took names from are preloaded too (those importable from the working
    directory): that re-run then imports next to nothing. The preload applies when this process starts
    its forkserver (first pool).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", work.__module__, *_PYARROW_LAZY_IMPORTS, *_main_imports()])
    return context


# pyarrow imports pandas (when installed) the first time it converts Python objects, as a batch's texts:
# half a second that each worker would pay again at its first batch. Names that fail to import are skipped.
_PYARROW_LAZY_IMPORTS = ["pandas", "pyarrow.pandas_compat"]


def _main_imports() -> list[str]:
    """Modules a main script imported, or imported names from (``from m import f``).

    None for an interactive ``__main__`` (no file): workers do not re-run that.
    """
    main = sys.modules.get("__main__")
    names = set()
    for value in vars(main).values() if getattr(main, "__file__", None) else ():
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name in sys.modules and name not in ("__main__", "__mp_main__"):
            names.add(name)
    return sorted(names)


def _result(future: Future[Out]) -> Out:
    try:
        return future.result()
    except BrokenProcessPool as err:
        raise RuntimeError(
            "a worker process died or could not start. Worker processes re-import the main script: a "
            'script that builds a corpus needs an `if __name__ == "__main__":` guard (or pass workers=1)'
        ) from err
