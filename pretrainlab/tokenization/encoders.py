"""Two ways to turn a batch of texts into ids, and the run-time check that picks the faster one.

Both encoders map ``texts -> (ids, lengths)``: every text's ids back to back and the number of ids of
each. :class:`HFEncoder` is the reference (HF ``tokenizers``' batch API); :class:`TiktokenEncoder`
runs the same byte-level BPE through tiktoken (:mod:`.tiktoken_bpe`), several times faster.
:func:`choose_encoder` uses tiktoken only if it can be built *and* gives identical ids on a sample
of the corpus; otherwise it falls back to HF and logs why. In both, a special token's text in a
document (``</s>``, ``<extra_id_0>``) is encoded as plain text, never as the special id: documents
are data, and a stray ``</s>`` must not end one early.
"""

from __future__ import annotations

import itertools
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
import tiktoken

from pretrainlab.tokenization.tiktoken_bpe import NotEquivalent, nfc, tiktoken_encoding

logger = logging.getLogger(__name__)


class Encoder(Protocol):
    name: str

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...


def _flatten(id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64, count=int(lengths.sum()))
    return ids, lengths


class HFEncoder:
    """``tokenizers.Tokenizer.encode_batch_fast`` (Rust, parallel over the batch), no specials added."""

    name = "tokenizers"

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        backend.encode_special_tokens = True  # special tokens' text in a document stays text

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self.backend.encode_batch_fast(texts, add_special_tokens=False)
        return _flatten([e.ids for e in encodings])

    def close(self) -> None:
        pass


class TiktokenEncoder:
    """tiktoken's ``encode_ordinary`` over contiguous slices of the batch, one thread per core.

    tiktoken releases the GIL while it encodes, so threads use every core without copying texts to
    other processes. NFC is applied first when the tokenizer has an NFC normalizer (a no-op check on
    corpus text, which cleaning already normalised).
    """

    name = "tiktoken"

    def __init__(self, encoding: tiktoken.Encoding, apply_nfc: bool, threads: int) -> None:
        self.encoding = encoding
        self.apply_nfc = apply_nfc
        self.threads = max(1, threads)
        self._executor = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def _encode(self, texts: list[str]) -> list[list[int]]:
        encode = self.encoding.encode_ordinary
        if self.apply_nfc:
            return [encode(nfc(text)) for text in texts]
        return [encode(text) for text in texts]

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._executor is None or len(texts) < 2 * self.threads:
            return _flatten(self._encode(texts))
        step = -(-len(texts) // self.threads)
        parts = self._executor.map(self._encode, [texts[i : i + step] for i in range(0, len(texts), step)])
        return _flatten(list(itertools.chain.from_iterable(parts)))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()


def first_difference(reference: Encoder, candidate: Encoder, texts: list[str]) -> str | None:
    """Where ``candidate`` first disagrees with ``reference`` on ``texts`` (None if nowhere)."""
    ref_ids, ref_lengths = reference(texts)
    ids, lengths = candidate(texts)
    if np.array_equal(ref_ids, ids) and np.array_equal(ref_lengths, lengths):
        return None
    ref_starts, starts = np.cumsum(ref_lengths) - ref_lengths, np.cumsum(lengths) - lengths
    for i, text in enumerate(texts):
        a = ref_ids[ref_starts[i] : ref_starts[i] + ref_lengths[i]]
        b = ids[starts[i] : starts[i] + lengths[i]]
        if not np.array_equal(a, b):
            k = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            return (
                f"document {i} ({text[:40]!r}...): token {k} is {a[k] if k < len(a) else 'past the end'} "
                f"with {reference.name}, {b[k] if k < len(b) else 'past the end'} with {candidate.name}"
            )
    return "the batches differ"  # unreachable unless lengths disagree in sum only


def choose_encoder(backend: Any, sample: list[str], threads: int) -> Encoder:
    """tiktoken if it reproduces ``backend`` (a ``tokenizers.Tokenizer``) on ``sample``, else HF."""
    reference = HFEncoder(backend)
    try:
        encoding, apply_nfc = tiktoken_encoding(json.loads(backend.to_str()))
    except NotEquivalent as err:
        logger.info("tokens: encoding with tokenizers (tiktoken cannot reproduce this tokenizer: %s)", err)
        return reference
    candidate = TiktokenEncoder(encoding, apply_nfc, threads)
    difference = first_difference(reference, candidate, sample)
    if difference is not None:
        candidate.close()
        logger.warning(
            "tokens: encoding with tokenizers, the slower path: tiktoken built from the same BPE differs on "
            "the sample, %s",
            difference,
        )
        return reference
    logger.info(
        "tokens: encoding with tiktoken (ids identical to tokenizers on %d sample documents)", len(sample)
    )
    return candidate
