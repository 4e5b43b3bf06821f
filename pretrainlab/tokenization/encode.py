"""Encode the corpus splits once into flat token streams (the layout :mod:`.token_stream` reads).

Shards are streamed in record batches, so memory holds one batch of text and ids plus the document
offsets (8 bytes per document). Batches go through the fastest encoder whose ids are verified equal
to the tokenizer's own on a sample of the corpus (:func:`~.encoders.choose_encoder`: tiktoken built
from the same BPE, else HF ``tokenizers``); a special token's text inside a document is encoded as
text, never as the special id. When the corpus declares a mixture (``corpus.sources[].weight``), the
train stream is then rewritten in it (:mod:`~pretrainlab.tokenization.mixing`).
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from pretrainlab.atomic import atomic_dir, write_json
from pretrainlab.corpus.prepare import available_cores
from pretrainlab.corpus.shards import iter_texts
from pretrainlab.tokenization.encoders import Encoder, choose_encoder
from pretrainlab.tokenization.load import load_tokenizer, tokenizer_fingerprint
from pretrainlab.tokenization.mixing import mix_train_stream
from pretrainlab.tokenization.token_stream import META_FILE, bin_path, idx_path, token_dtype

logger = logging.getLogger(__name__)

SPLITS = ("train", "val")
BATCH_DOCUMENTS = 4096
SAMPLE_DOCUMENTS = 2000  # from the start of train (and a tenth as many from val), checked at run time


def encode_documents(
    encoder: Encoder, texts: list[str], eos: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, starts)`` of a batch: each text's ids then ``eos``, concatenated; ``starts`` are offsets.

    ``encode_documents(enc, ["ab", "c"], eos=2, ...)`` -> ``([a, b, 2, c, 2], [0, 3])``.
    """
    flat, lengths = encoder(texts)
    ends = np.cumsum(lengths + 1)  # one past each document's </s>
    ids = np.empty(int(ends[-1]) if len(ends) else 0, dtype=dtype)
    is_eos = np.zeros(len(ids), dtype=bool)
    is_eos[ends - 1] = True
    ids[is_eos] = eos
    ids[~is_eos] = flat
    return ids, ends - lengths - 1


def corpus_sample(corpus_dir: Path, documents: int = SAMPLE_DOCUMENTS) -> list[str]:
    """The first ``documents`` texts of train and the first tenth as many of val."""
    sample: list[str] = []
    for split, count in (("train", documents), ("val", max(1, documents // 10))):
        texts = itertools.chain.from_iterable(t.to_pylist() for t in iter_texts(corpus_dir, split, 1024))
        sample.extend(itertools.islice(texts, count))
    return sample


def encode_corpus(corpus_dir: Path, tokenizer_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``{train,val}.bin``, ``{train,val}.idx.npy`` and ``meta.json`` into ``out_dir``; returns meta."""
    tokenizer, specials = load_tokenizer(tokenizer_dir)
    encoder = choose_encoder(tokenizer.backend_tokenizer, corpus_sample(Path(corpus_dir)), available_cores())
    dtype = token_dtype(specials.vocab_size)
    meta: dict[str, Any] = {
        "vocab_size": specials.vocab_size,
        "dtype": dtype.name,
        "eos_id": specials.eos,
        "tokens": {},
        "documents": {},
        "bytes": {},
        "tokenizer_sha256": tokenizer_fingerprint(tokenizer_dir),
    }
    with atomic_dir(Path(out_dir)) as tmp:
        try:
            for split in SPLITS:
                _encode_split(Path(corpus_dir), split, encoder, specials.eos, dtype, tmp, meta)
        finally:
            encoder.close()
        mix_train_stream(Path(corpus_dir), tmp, meta)
        write_json(tmp / META_FILE, meta)
    return meta


def _encode_split(
    corpus_dir: Path,
    split: str,
    encoder: Encoder,
    eos: int,
    dtype: np.dtype,
    out_dir: Path,
    meta: dict[str, Any],
) -> None:
    started = time.perf_counter()
    offset, n_bytes, starts = 0, 0, []
    with open(bin_path(out_dir, split), "wb") as out:
        for texts in iter_texts(corpus_dir, split, BATCH_DOCUMENTS):
            ids, batch_starts = encode_documents(encoder, texts.to_pylist(), eos, dtype)
            ids.tofile(out)
            starts.append(batch_starts + offset)
            offset += len(ids)
            n_bytes += int(pc.sum(pc.binary_length(texts)).as_py() or 0)
    doc_starts = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    np.save(idx_path(out_dir, split), doc_starts.astype(np.int64), allow_pickle=False)
    meta["tokens"][split], meta["documents"][split], meta["bytes"][split] = offset, len(doc_starts), n_bytes
    seconds = time.perf_counter() - started
    logger.info(
        "tokens/%s: %d documents, %d tokens, %.2f bytes/token, %.1f MB/s (%s)",
        split,
        len(doc_starts),
        offset,
        n_bytes / max(offset, 1),
        n_bytes / 1e6 / max(seconds, 1e-9),
        encoder.name,
    )
