"""Deduplication steps: exact (same normalised text) and near (MinHash LSH over word n-grams).

Both remember what they have kept, so duplicates are found across batches; the first occurrence in
stream order is the one kept. Run them after :mod:`~pretrainlab.corpus.cleaning`, so "the same text"
means the same NFC, whitespace-normalised text. Each is split in two: a stateless, per-document part
(:func:`text_digests`, :meth:`MinHasher.signatures`) that the build runs in worker processes, and a
sequential ``keep`` that decides against the state kept so far.

>>> import pyarrow as pa
>>> dedup = ExactDedup()
>>> dedup(pa.table({"text": ["a b", "c", "a b"]})).column("text").to_pylist()
['a b', 'c']
>>> dedup(pa.table({"text": ["c", "d"]})).column("text").to_pylist()
['d']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pretrainlab.corpus.cleaning import TEXT

# Shingles whose permuted hashes are held in memory at once (num_perm x this many uint32).
_CHUNK_SHINGLES = 8192


def text_digest(text: str) -> bytes:
    """128-bit BLAKE2b of the UTF-8 text: collisions are negligible at any corpus size."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def text_digests(texts: Sequence[str]) -> list[bytes]:
    """:func:`text_digest` of each text."""
    return [text_digest(text) for text in texts]


class ExactDedup:
    """Drop documents whose text was already kept (16 bytes of state per kept document)."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def keep(self, digests: Sequence[bytes]) -> np.ndarray:
        """Boolean mask of the documents (given by their digests) seen for the first time."""
        keep = np.empty(len(digests), dtype=bool)
        seen = self._seen
        for i, digest in enumerate(digests):
            keep[i] = digest not in seen
            seen.add(digest)
        return keep

    def __call__(self, table: pa.Table) -> pa.Table:
        return table.filter(pa.array(self.keep(text_digests(table.column(TEXT).to_pylist()))))


# str.split() splits ASCII text on these too; bytes.split() does not.
_ASCII_SEPARATORS = re.compile("[\x1c-\x1f]")


def word_shingles(text: str, n: int) -> list[bytes]:
    """Lower-cased word n-grams: ``word_shingles("A b c", 2) == [b"a b", b"b c"]``.

    Words are ``str.split()``'s. A document shorter than ``n`` words is one shingle (its whole text),
    so it is still comparable.
    """
    lowered = text.lower()
    if lowered.isascii() and not _ASCII_SEPARATORS.search(lowered):
        # The common case, split as bytes: the same words, without encoding each shingle.
        words: list[bytes] = lowered.encode("ascii").split()
        if len(words) <= n:
            return [b" ".join(words)]
        return list(map(b" ".join, zip(*(words[i:] for i in range(n)), strict=False)))
    unicode_words = lowered.split()
    if len(unicode_words) <= n:
        return [" ".join(unicode_words).encode("utf-8")]
    return [
        s.encode("utf-8") for s in map(" ".join, zip(*(unicode_words[i:] for i in range(n)), strict=False))
    ]


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (what datasketch applies before its affine permutations)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@dataclass(frozen=True, eq=False)
class MinHasher:
    """MinHash signatures equal, value for value, to ``datasketch.MinHash.bulk(..., scheme="affine32")``.

    datasketch's scheme: each shingle -> the first 4 bytes of its SHA-1 (little-endian) -> MurmurHash3
    fmix32 -> ``a_k * h + b_k mod 2^32`` for each of ``num_perm`` permutations -> the minimum over the
    document's shingles. Here the permutations run vectorised over a whole batch (numpy), which is
    where datasketch spends most of its time per document; SHA-1 stays per shingle (hashlib).
    ``permutations`` equals datasketch's ``MinHash(num_perm, seed, scheme="affine32").permutations``.
    """

    shingle_words: int
    permutations: np.ndarray  # uint32 [2, num_perm]: a (odd) and b

    @classmethod
    def from_seed(cls, num_perm: int, shingle_words: int, seed: int) -> MinHasher:
        """datasketch's draw of the affine32 permutations for ``seed`` (``MinHash._init_permutations``)."""
        gen = np.random.RandomState(seed)  # the legacy generator: its stream is frozen by numpy
        a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        return cls(shingle_words, np.array([a, b], dtype=np.uint32))

    @property
    def num_perm(self) -> int:
        return self.permutations.shape[1]

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """uint32 ``[len(texts), num_perm]``: row ``i`` is the MinHash of ``texts[i]``'s shingles."""
        sha1 = hashlib.sha1
        shingles = [word_shingles(text, self.shingle_words) for text in texts]
        counts = np.fromiter(map(len, shingles), dtype=np.int64, count=len(shingles))
        digests = b"".join([sha1(s).digest() for doc in shingles for s in doc])
        hashes = _fmix32(np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32))  # SHA-1 is 20 bytes
        ends = np.cumsum(counts)
        starts = ends - counts
        a, b = self.permutations[0][:, None], self.permutations[1][:, None]
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        first = 0
        while first < len(texts):
            # Whole documents per chunk, at least one, about _CHUNK_SHINGLES shingles.
            last = max(first + 1, int(np.searchsorted(ends, starts[first] + _CHUNK_SHINGLES, side="right")))
            lo, hi = starts[first], ends[last - 1]
            permuted = a * hashes[None, lo:hi]  # uint32 arithmetic wraps: mod 2^32, as datasketch
            permuted += b
            out[first:last] = np.minimum.reduceat(permuted, starts[first:last] - lo, axis=1).T
            first = last
        return out


class NearDedup:
    """Drop documents whose estimated Jaccard similarity to a kept one reaches ``threshold``.

    Each document becomes a MinHash of its word ``shingle_words``-grams (``num_perm`` permutations
    drawn from ``seed``), checked against an LSH index of the documents kept so far. The LSH bands
    (``b`` bands of ``r`` rows) are the ones datasketch's ``MinHashLSH`` picks for ``threshold``; a
    band collision counts as a duplicate (no exact Jaccard check, as in most web-scale pipelines), so
    the result is deterministic for a given input order and equal to a datasketch ``MinHashLSH``
    queried then inserted document by document.
    """

    def __init__(self, threshold: float, num_perm: int, shingle_words: int, seed: int) -> None:
        from datasketch import MinHashLSH  # imports scipy: kept out of the worker processes' imports

        self.hasher = MinHasher.from_seed(num_perm, shingle_words, seed)
        self.bands: tuple[tuple[int, int], ...] = tuple(
            MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges
        )
        self._tables: list[set[bytes]] = [set() for _ in self.bands]

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        return self.hasher.signatures(texts)

    def keep(self, signatures: np.ndarray) -> np.ndarray:
        """Boolean mask of the documents (rows of ``signatures``) that collide with no kept document."""
        signatures = np.asarray(signatures, dtype=np.uint32)
        # One bytes key per document and band: equal keys <=> equal band of the signature.
        band_keys = [
            np.ascontiguousarray(signatures[:, lo:hi]).view(f"V{4 * (hi - lo)}").ravel().tolist()
            for lo, hi in self.bands
        ]
        n = len(signatures)
        # Against the documents kept in earlier batches: one set lookup per document and band.
        keep = np.ones(n, dtype=bool)
        for keys, table in zip(band_keys, self._tables, strict=True):
            keep &= np.fromiter((key not in table for key in keys), dtype=bool, count=n)
        # Within the batch, only documents sharing a band key with another one need deciding in order.
        shared = np.zeros(n, dtype=bool)
        for keys in band_keys:
            first: dict[bytes, int] = {}
            for i, key in enumerate(keys):
                j = first.setdefault(key, i)
                if j != i:
                    shared[i] = shared[j] = True
        for i in np.flatnonzero(shared & keep):
            if any(keys[i] in table for keys, table in zip(band_keys, self._tables, strict=True)):
                keep[i] = False
            else:
                for keys, table in zip(band_keys, self._tables, strict=True):
                    table.add(keys[i])
        # The rest share no key with any kept document: add them all.
        rest = np.flatnonzero(keep & ~shared)
        for keys, table in zip(band_keys, self._tables, strict=True):
            table.update([keys[i] for i in rest])
        return keep

    def __call__(self, table: pa.Table) -> pa.Table:
        signatures = self.signatures(table.column(TEXT).to_pylist())
        return table.filter(pa.array(self.keep(signatures)))
