"""Mix the train token stream by the sources' declared weights (``corpus.sources[].weight``).

A weight is a source's share of the *training token stream*, relative to the other sources'. The
stream keeps the size it has unmixed (every train document once); a source whose share is above its
natural one is upsampled (all its documents repeated whole, then a seeded subset once more) and one
below it downsampled (a seeded subset). Documents are whole, so each share lands within one
document's tokens of its target. The chosen documents are then shuffled (seeded) so the sources
interleave. Seeds are the study seed (``stats.json``'s ``seed``) and the source's index.

**Why in the tokenize stage.** Shares are of tokens, and tokens exist only once the corpus is encoded:
mixing documents in the corpus stage could only aim at characters, which miss a token target by
however much two sources' bytes per token differ. So the corpus stage writes every document once and
records the declared mixture in its ``stats.json`` (:mod:`pretrainlab.corpus.mixture`); this stage reads
it from its own input ``data/corpus``. Its params stay ``tokenizer`` alone and its DVC key is its
inputs: a changed weight changes ``stats.json``, which reruns tokenize and what trains on its tokens,
while the shards, hence the tokenizer trained on them, stay the same. The tokenizer is trained on the
unmixed corpus and the val split is left unmixed (a held-out sample of every source as it is).

Without weights nothing here runs, so the tokens are byte-identical to an unweighted build's.

>>> import numpy as np
>>> plan = plan_mixture(np.array([0, 0, 1, 1]), np.array([10, 10, 30, 30]), [0.5, 0.5], seed=0)
>>> [(s.tokens, s.documents_in_stream, s.repeats) for s in plan.sources]
[(40, 4, 2), (30, 1, 0)]
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from pretrainlab.corpus.mixture import MIXTURE
from pretrainlab.corpus.shards import SOURCE, iter_batches
from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.token_stream import bin_path, idx_path

logger = logging.getLogger(__name__)

STATS_FILE = "stats.json"  # the corpus stage's
_GATHER_DOCUMENTS = 8192  # documents copied per gather when writing the mixed stream


@dataclass(frozen=True)
class SourceShare:
    """One source's part of the mixed train stream (a row of ``meta.json``'s ``mixture``)."""

    key: str  # corpus.sources[i]
    declared: float  # its share of the stream's tokens, as the weights declare it
    actual: float  # its share of the mixed stream's tokens
    documents: int  # its train documents (each once)
    tokens_available: int  # their tokens, each document once (with its </s>)
    documents_in_stream: int  # how many of the stream's documents are its (repeats included)
    repeats: int  # documents_in_stream - distinct documents in the stream
    tokens: int  # its tokens in the stream


@dataclass(frozen=True, eq=False)
class MixturePlan:
    order: np.ndarray  # int64 document ids of the unmixed stream, in the mixed stream's order
    sources: tuple[SourceShare, ...]


def declared_mixture(corpus_dir: Path) -> tuple[dict[str, Any], int] | None:
    """The corpus's declared mixture and seed (``stats.json``), or None when it has none."""
    path = Path(corpus_dir) / STATS_FILE
    if not path.is_file():
        return None
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserInputError(f"{path}: not readable JSON ({err}); rerun the corpus stage") from err
    if not isinstance(stats, dict) or stats.get(MIXTURE) is None:
        return None
    return stats[MIXTURE], int(stats["seed"])


def plan_mixture(
    sources: np.ndarray, lengths: np.ndarray, declared: list[float], seed: int, keys: list[str] | None = None
) -> MixturePlan:
    """Which documents, how often and in what order: ``sources[d]`` is document ``d``'s source index,
    ``lengths[d]`` its tokens; ``declared`` the sources' shares (summing to 1). ``keys`` name the sources
    (``corpus.sources[i]``) in the plan and in errors."""
    keys = keys or [f"corpus.sources[{i}]" for i in range(len(declared))]
    total = int(lengths.sum())
    picked: list[np.ndarray] = []
    shares = []
    for i, share in enumerate(declared):
        docs = np.flatnonzero(sources == i)
        available = int(lengths[docs].sum())
        if share > 0 and available == 0:
            raise UserInputError(
                f"{keys[i]}.weight: declared {share:.2%} of the stream, but it has no tokens"
            )
        copies, remainder = divmod(share * total, available) if available else (0.0, 0.0)
        shuffled = docs[np.random.default_rng([seed, i]).permutation(len(docs))]
        cumulative = np.cumsum(lengths[shuffled])
        # ``extra`` documents fall short of the remainder and one more reaches it: take the closer
        extra = int(np.searchsorted(cumulative, remainder))
        below = int(cumulative[extra - 1]) if extra else 0
        if extra < len(docs) and cumulative[extra] - remainder <= remainder - below:
            extra += 1
        chosen = np.concatenate([np.tile(docs, int(copies)), shuffled[:extra]])
        picked.append(chosen)
        distinct = len(docs) if copies >= 1 else extra
        shares.append((i, share, len(docs), available, len(chosen), len(chosen) - distinct))
    order = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    order = order[np.random.default_rng([seed, len(declared)]).permutation(len(order))].astype(np.int64)
    mixed = int(lengths[order].sum())
    rows = []
    for (i, share, documents, available, in_stream, repeats), chosen in zip(shares, picked, strict=True):
        tokens = int(lengths[chosen].sum())
        actual = tokens / mixed if mixed else 0.0
        rows.append(SourceShare(keys[i], share, actual, documents, available, in_stream, repeats, tokens))
    return MixturePlan(order, tuple(rows))


def mix_train_stream(corpus_dir: Path, tokens_dir: Path, meta: dict[str, Any]) -> None:
    """Rewrite ``tokens_dir``'s train stream in the mixture ``corpus_dir`` declares; record it in ``meta``.

    ``tokens_dir`` holds the unmixed ``train.bin``/``train.idx.npy`` (document ``d`` of the corpus's
    train shards is document ``d`` there). Does nothing when the corpus declares no mixture.
    """
    found = declared_mixture(corpus_dir)
    if found is None:
        return
    mixture, seed = found
    rows = mixture["sources"]
    owner = {origin: i for i, row in enumerate(rows) for origin in row["origins"]}
    doc_sources, doc_bytes = _document_sources(Path(corpus_dir), owner)

    unmixed = bin_path(tokens_dir, "train").with_suffix(".unmixed")
    bin_path(tokens_dir, "train").rename(unmixed)
    starts = np.load(idx_path(tokens_dir, "train"), allow_pickle=False)
    tokens = np.memmap(unmixed, dtype=np.dtype(meta["dtype"]), mode="r")
    if len(starts) != len(doc_sources):
        raise UserInputError(
            f"{corpus_dir}: {len(doc_sources)} train documents in the shards but {len(starts)} encoded; "
            "rerun the tokenize stage"
        )
    lengths = np.diff(np.append(starts, len(tokens)))
    plan = plan_mixture(doc_sources, lengths, [r["declared"] for r in rows], seed, [r["key"] for r in rows])
    new_starts = _write_stream(tokens, starts, lengths, plan.order, bin_path(tokens_dir, "train"))
    del tokens
    unmixed.unlink()
    np.save(idx_path(tokens_dir, "train"), new_starts, allow_pickle=False)

    meta["tokens"]["train"] = int(lengths[plan.order].sum())
    meta["documents"]["train"] = len(plan.order)
    meta["bytes"]["train"] = int(doc_bytes[plan.order].sum())
    shares = [asdict(s) | {"weight": r["weight"]} for s, r in zip(plan.sources, rows, strict=True)]
    meta[MIXTURE] = {"seed": seed, "unmixed_tokens": int(lengths.sum()), "sources": shares}
    for share in plan.sources:
        logger.info(
            "tokens/train mixture: %s declared %.2f%%, actual %.2f%% (%d tokens, %d documents, %d repeats)",
            share.key,
            100 * share.declared,
            100 * share.actual,
            share.tokens,
            share.documents_in_stream,
            share.repeats,
        )


def _document_sources(corpus_dir: Path, owner: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each train document's source index (by its ``source`` origin) and its UTF-8 bytes."""
    sources, sizes = [], []
    for batch in iter_batches(corpus_dir, "train", ["text", SOURCE], 8192):
        origins = batch.column(1).to_pylist()
        unknown = sorted(set(origins) - owner.keys())
        if unknown:
            raise UserInputError(
                f"{corpus_dir / STATS_FILE}: the train shards hold documents from {unknown[:3]}, which no "
                "source of its mixture lists; rerun the corpus stage"
            )
        sources.append(np.fromiter((owner[o] for o in origins), dtype=np.int64, count=len(origins)))
        sizes.append(pc.binary_length(batch.column(0)).to_numpy(zero_copy_only=False).astype(np.int64))
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate(sources) if sources else empty), (np.concatenate(sizes) if sizes else empty)


def _write_stream(
    tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray, order: np.ndarray, out: Path
) -> np.ndarray:
    """Copy documents ``order`` of ``tokens`` back to back into ``out``; returns their new starts."""
    new_lengths = lengths[order]
    new_starts = np.concatenate([[0], np.cumsum(new_lengths)[:-1]]).astype(np.int64) if len(order) else order
    with open(out, "wb") as handle:
        for begin in range(0, len(order), _GATHER_DOCUMENTS):
            chunk = order[begin : begin + _GATHER_DOCUMENTS]
            sizes = lengths[chunk]
            offsets = np.repeat(starts[chunk] - (np.cumsum(sizes) - sizes), sizes)
            tokens[np.arange(int(sizes.sum())) + offsets].tofile(handle)
    return new_starts
