"""Deduplication steps: exact (same normalised text) and near (MinHash LSH over word n-grams).

Both are callables ``table -> table`` that remember what they have kept, so duplicates are found
across batches; the first occurrence in stream order is the one kept. Run them after
:mod:`~pretrainlab.corpus.cleaning`, so "the same text" means the same NFC, whitespace-normalised text.

>>> import pyarrow as pa
>>> dedup = ExactDedup()
>>> dedup(pa.table({"text": ["a b", "c", "a b"]})).column("text").to_pylist()
['a b', 'c']
>>> dedup(pa.table({"text": ["c", "d"]})).column("text").to_pylist()
['d']
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
from datasketch import MinHash, MinHashLSH

from pretrainlab.corpus.cleaning import TEXT


def text_digest(text: str) -> bytes:
    """128-bit BLAKE2b of the UTF-8 text: collisions are negligible at any corpus size."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class ExactDedup:
    """Drop documents whose text was already kept (16 bytes of state per kept document)."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = []
        for text in table.column(TEXT).to_pylist():
            digest = text_digest(text)
            keep.append(digest not in self._seen)
            self._seen.add(digest)
        return table.filter(pa.array(keep, type=pa.bool_()))


def word_shingles(text: str, n: int) -> list[bytes]:
    """Lower-cased word n-grams: ``word_shingles("A b c", 2) == [b"a b", b"b c"]``.

    A document shorter than ``n`` words is one shingle (its whole text), so it is still comparable.
    """
    words = text.lower().split()
    if len(words) <= n:
        return [" ".join(words).encode("utf-8")]
    return [" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)]


class NearDedup:
    """Drop documents whose estimated Jaccard similarity to a kept one reaches ``threshold``.

    Each document becomes a MinHash of its word ``shingle_words``-grams (``num_perm`` permutations
    drawn from ``seed``), queried against an LSH index of the documents kept so far. LSH bands are
    tuned by datasketch for ``threshold``; a band collision counts as a duplicate (no exact Jaccard
    check, as in most web-scale pipelines), so the result is deterministic for a given input order.
    """

    def __init__(self, threshold: float, num_perm: int, shingle_words: int, seed: int) -> None:
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.seed = seed
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._kept = 0

    def signatures(self, texts: list[str]) -> list[MinHash]:
        shingles = (word_shingles(text, self.shingle_words) for text in texts)
        return MinHash.bulk(shingles, num_perm=self.num_perm, seed=self.seed)

    def __call__(self, table: pa.Table) -> pa.Table:
        keep = []
        for signature in self.signatures(table.column(TEXT).to_pylist()):
            duplicate = bool(self._lsh.query(signature))
            if not duplicate:
                self._lsh.insert(self._kept, signature, check_duplication=False)
                self._kept += 1
            keep.append(not duplicate)
        return table.filter(pa.array(keep, type=pa.bool_()))
