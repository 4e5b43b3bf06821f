"""Stable train/validation split: a document's split depends only on its text.

Each text is hashed (BLAKE2b, its own personalisation so it is independent of the dedup digest) to a
number in [0, 1); the document is validation when that number is below ``val_fraction``. Adding,
removing or reordering other documents never moves a document between splits, and raising
``val_fraction`` only moves documents from train to validation.

>>> import pyarrow as pa
>>> train, val = split_table(pa.table({"text": [f"doc {i}" for i in range(1000)]}), 0.1)
>>> train.num_rows + val.num_rows, 50 < val.num_rows < 150
(1000, True)
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from pretrainlab.corpus.cleaning import utf8_texts

_PERSON = b"pl-split"


def split_key(text: str) -> float:
    """The document's position in [0, 1): validation iff ``split_key(text) < val_fraction``."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def split_keys(table: pa.Table) -> np.ndarray:
    """``split_key`` of every document of a batch (float64, one per row)."""
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(text, digest_size=8, person=_PERSON).digest() for text in utf8_texts(table)])
    # uint64 -> float64 rounds to nearest, as Python's int / float does: the same keys as split_key.
    return np.frombuffer(digests, dtype=">u8") / 2.0**64


def split_table(table: pa.Table, val_fraction: float) -> tuple[pa.Table, pa.Table]:
    """``(train, val)`` rows of a batch, each in input order."""
    is_val = split_keys(table) < val_fraction
    return table.filter(pa.array(~is_val)), table.filter(pa.array(is_val))
