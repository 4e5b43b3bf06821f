"""Build the corpus: sources -> cleaning -> dedup -> stable split -> parquet shards + ``stats.json``.

Output (the ``corpus`` stage's artifact, README: "Artifacts")::

    out_dir/train/part-00000.parquet ...   columns: text (string), source (where it came from)
    out_dir/val/part-00000.parquet ...
    out_dir/stats.json                     documents in per source, removed per filter, out per split
                                           (and, when sources have weights, the declared mixture:
                                           :mod:`~pretrainlab.corpus.mixture`)

Documents stream through in batches, so memory holds a few batches plus the dedup state (16 bytes per
document for exact dedup, the LSH bands for MinHash). The per-batch work (cleaning, digests, MinHash
signatures: :mod:`~pretrainlab.corpus.prepare`) runs in one worker process per core; the filters that
depend on earlier documents run here, in stream order, so the output does not depend on the number of
workers. Everything is written inside :func:`~pretrainlab.atomic.atomic_dir`: an interrupted or failed
build leaves no ``out_dir``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pretrainlab.atomic import atomic_dir, write_json
from pretrainlab.config.schema import CorpusConfig, CorpusFilters, Source
from pretrainlab.corpus.dedup import ExactDedup, NearDedup
from pretrainlab.corpus.mixture import MIXTURE, declared_mixture, source_key
from pretrainlab.corpus.prepare import OrderedPool, PrepareBatch, PreparedBatch, RawBatch, available_cores
from pretrainlab.corpus.shards import ShardWriter
from pretrainlab.corpus.sources import DocumentRun, check_source, iter_runs
from pretrainlab.errors import UserInputError

logger = logging.getLogger(__name__)

FILTERS = ("invalid_utf8", "too_short", "too_long", "exact_duplicates", "near_duplicates")
BATCH_DOCUMENTS = 2048


@dataclass(frozen=True)
class SourceStats:
    key: str  # corpus.sources[i]
    kind: str
    documents: int  # read, including those with invalid UTF-8
    invalid_utf8: int
    origins: dict[str, int]  # documents per origin (per file for a ``files`` source)


@dataclass(frozen=True)
class SplitStats:
    documents: int
    chars: int
    bytes: int
    shards: int


@dataclass(frozen=True)
class CorpusStats:
    sources: tuple[SourceStats, ...]
    removed: dict[str, int]  # filter name (FILTERS) -> documents removed
    splits: dict[str, SplitStats]  # "train" | "val"
    seed: int
    val_fraction: float
    mixture: dict[str, Any] | None = None  # corpus.mixture.declared_mixture; left out of the JSON if None
    documents_in: int = field(init=False)
    documents_out: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "documents_in", sum(s.documents for s in self.sources))
        object.__setattr__(self, "documents_out", sum(s.documents for s in self.splits.values()))

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        if payload[MIXTURE] is None:
            del payload[MIXTURE]
        return payload


def build_corpus(
    config: CorpusConfig, seed: int, out_dir: Path, root: Path | None = None, workers: int | None = None
) -> CorpusStats:
    """Build the corpus described by ``config`` into ``out_dir`` (replaced atomically on success).

    ``seed`` seeds MinHash; ``root`` is where ``files`` globs and local ``hf`` paths resolve (cwd by
    default); ``workers`` is the number of worker processes (default: one per available core; the
    output is the same for any number). Raises UserInputError, leaving ``out_dir`` untouched, on bad
    sources or an empty result.
    """
    root = Path.cwd() if root is None else Path(root)
    sources = list(enumerate(config.sources))
    for i, source in sources:
        check_source(source, _key(i), root)  # fail on a bad glob or path before reading anything

    with atomic_dir(Path(out_dir)) as tmp:
        pipeline = _Pipeline(config.filters, config.val_fraction, seed, tmp)
        pool = OrderedPool(pipeline.prepare, pipeline.add, available_cores() if workers is None else workers)
        try:
            origins = [_read_source(pool, source, _key(i), root) for i, source in sources]
            pool.finish()
        finally:
            pool.close()
        read = [_source_stats(_key(i), source, origins[i], pipeline) for i, source in sources]
        splits = pipeline.finish(read)
        mixture = declared_mixture(
            [source.weight for source in config.sources],
            [s.origins for s in read],
            {name: sink.writer.origins for name, sink in pipeline.sinks.items()},
        )
        stats = CorpusStats(tuple(read), dict(pipeline.removed), splits, seed, config.val_fraction, mixture)
        write_json(tmp / "stats.json", stats.to_json())
    logger.info(
        "corpus: %d documents in, %d out, removed %s", stats.documents_in, stats.documents_out, stats.removed
    )
    return stats


def _key(index: int) -> str:
    return source_key(index)


def _read_source(
    pool: OrderedPool[RawBatch, PreparedBatch], source: Source, key: str, root: Path
) -> Counter[str]:
    """Submit the source's documents in batches of BATCH_DOCUMENTS; returns documents per origin."""
    origins: Counter[str] = Counter()
    runs: list[DocumentRun] = []
    size = 0
    try:
        for run in iter_runs(source, key, root):
            origins[run.origin] += len(run.texts)
            while len(run.texts):
                head = DocumentRun(run.origin, run.texts[: BATCH_DOCUMENTS - size])
                run = DocumentRun(run.origin, run.texts[len(head.texts) :])
                runs.append(head)
                size += len(head.texts)
                if size == BATCH_DOCUMENTS:
                    pool.submit(RawBatch(key, runs))
                    runs, size = [], 0
    except UserInputError:
        # An error in a document read before this one (found when a worker parses it) comes first.
        if runs:
            pool.submit(RawBatch(key, runs))
        pool.finish()
        raise
    if runs:
        pool.submit(RawBatch(key, runs))
    return origins


def _source_stats(key: str, source: Source, origins: Counter[str], pipeline: _Pipeline) -> SourceStats:
    invalid = pipeline.invalid_utf8[key]
    stats = SourceStats(key, source.kind, sum(origins.values()), invalid, dict(sorted(origins.items())))
    logger.info("%s (%s): %d documents, %d with invalid UTF-8", key, source.kind, stats.documents, invalid)
    return stats


class _Pipeline:
    """The stream-order steps (dedup state), their removal counts, and one shard writer per split."""

    def __init__(self, filters: CorpusFilters, val_fraction: float, seed: int, out: Path) -> None:
        self.filters = filters
        self.val_fraction = val_fraction
        self.removed: Counter[str] = Counter({name: 0 for name in FILTERS})
        self.invalid_utf8: Counter[str] = Counter()  # per source key
        self.exact = ExactDedup() if filters.exact_dedup else None
        minhash = filters.minhash
        self.near = (
            NearDedup(minhash.threshold, minhash.num_perm, minhash.shingle_words, seed)
            if minhash is not None
            else None
        )
        self.prepare = PrepareBatch(
            filters.min_chars,
            filters.max_chars,
            self.exact is not None,
            self.near.hasher if self.near is not None else None,
        )
        # The train split holds back its lowest-keyed document and val its highest, so either can
        # be handed to the other split at the end if that one would be empty (tiny corpora).
        self.sinks = {
            "train": _Sink(ShardWriter(out / "train"), lowest=True),
            "val": _Sink(ShardWriter(out / "val")),
        }

    def add(self, batch: PreparedBatch) -> None:
        """Apply the dedup filters to a prepared batch (in stream order) and route it to the splits."""
        self.invalid_utf8[batch.source] += batch.invalid_utf8
        self.removed["invalid_utf8"] += batch.invalid_utf8
        self.removed["too_short"] += batch.too_short
        self.removed["too_long"] += batch.too_long
        keep = np.ones(batch.table.num_rows, dtype=bool)
        if self.exact is not None:
            assert batch.digests is not None
            keep = self.exact.keep(batch.digests)
            self.removed["exact_duplicates"] += int((~keep).sum())
        if self.near is not None:
            assert batch.signatures is not None
            rows = np.flatnonzero(keep)
            near = self.near.keep(batch.signatures[rows])
            keep[rows[~near]] = False
            self.removed["near_duplicates"] += int((~near).sum())
        if not keep.any():
            return
        table, keys = batch.table.filter(pa.array(keep)), batch.split_keys[keep]
        is_val = keys < self.val_fraction
        self.sinks["train"].add(table.filter(pa.array(~is_val)), keys[~is_val])
        self.sinks["val"].add(table.filter(pa.array(is_val)), keys[is_val])

    def finish(self, sources: list[SourceStats]) -> dict[str, SplitStats]:
        filters = self.filters
        train, val = self.sinks["train"], self.sinks["val"]
        total = train.documents + val.documents
        if total == 0:
            raise UserInputError(_empty_message(sources, self.removed, filters))
        if total == 1:
            raise UserInputError(
                "corpus has 1 document after filters; at least 2 are needed for a train and a val split "
                f"({_removal_summary(self.removed, filters)})"
            )
        if val.documents == 0:
            val.writer.write(train.take_held())
            logger.warning("val split would be empty: moved the train document nearest the split boundary")
        elif train.documents == 0:
            train.writer.write(val.take_held())
            logger.warning("train split would be empty: moved the val document nearest the split boundary")
        return {name: sink.close() for name, sink in self.sinks.items()}


class _Sink:
    """A split's shard writer that holds back its boundary document (lowest or highest split key)."""

    def __init__(self, writer: ShardWriter, lowest: bool = False) -> None:
        self.writer = writer
        self.lowest = lowest
        self.held: pa.Table | None = None
        self.held_key = 0.0

    @property
    def documents(self) -> int:
        return self.writer.documents + (self.held is not None)

    def add(self, table: pa.Table, keys: np.ndarray) -> None:
        if table.num_rows == 0:
            return
        i = int(np.argmin(keys) if self.lowest else np.argmax(keys))
        if self.held is not None and (keys[i] >= self.held_key if self.lowest else keys[i] <= self.held_key):
            self.writer.write(table)
            return
        if self.held is not None:
            self.writer.write(self.held)
        self.held, self.held_key = table.slice(i, 1).combine_chunks(), float(keys[i])
        self.writer.write(pa.concat_tables([table.slice(0, i), table.slice(i + 1)]))

    def take_held(self) -> pa.Table:
        held, self.held = self.held, None
        assert held is not None
        return held

    def close(self) -> SplitStats:
        if self.held is not None:
            self.writer.write(self.take_held())
        self.writer.close()
        w = self.writer
        return SplitStats(documents=w.documents, chars=w.chars, bytes=w.bytes, shards=len(w.paths))


_FILTER_KEYS = {
    "invalid_utf8": lambda f: "bytes that are not UTF-8",
    "too_short": lambda f: f"corpus.filters.min_chars={f.min_chars}",
    "too_long": lambda f: f"corpus.filters.max_chars={f.max_chars}",
    "exact_duplicates": lambda f: "corpus.filters.exact_dedup=true",
    "near_duplicates": lambda f: (
        f"corpus.filters.minhash.threshold={f.minhash.threshold if f.minhash else None}"
    ),
}


def _removal_summary(removed: Counter[str], filters: CorpusFilters) -> str:
    parts = [f"{name} removed {n} ({_FILTER_KEYS[name](filters)})" for name, n in removed.items() if n]
    return ", ".join(parts) or "no filter removed anything"


def _empty_message(sources: list[SourceStats], removed: Counter[str], filters: CorpusFilters) -> str:
    documents_in = sum(s.documents for s in sources)
    if documents_in == 0:
        keys = ", ".join(s.key for s in sources)
        return f"corpus is empty: the sources yielded no documents ({keys})"
    return f"corpus is empty after filters: {documents_in} documents in, {_removal_summary(removed, filters)}"
