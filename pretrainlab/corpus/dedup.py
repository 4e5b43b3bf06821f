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

import functools
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pretrainlab.corpus.cleaning import TEXT, utf8_texts
from pretrainlab.errors import UserInputError

# Shingles whose permuted hashes are held in memory at once (num_perm x this many uint32).
_CHUNK_SHINGLES = 8192


def text_digest(text: str) -> bytes:
    """128-bit BLAKE2b of the UTF-8 text: collisions are negligible at any corpus size."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def text_digests(utf8: Sequence[bytes]) -> list[bytes]:
    """:func:`text_digest` of each text, given as UTF-8 bytes (:func:`~.cleaning.utf8_texts`)."""
    blake2b = hashlib.blake2b
    return [blake2b(text, digest_size=16).digest() for text in utf8]


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
        return table.filter(pa.array(self.keep(text_digests(utf8_texts(table)))))


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


_MASK64 = (1 << 64) - 1
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible mod 2^64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def shingle_hash(shingle: bytes) -> int:
    """32-bit hash of one shingle: what :class:`MinHasher` computes for whole batches at once.

    A 64-bit polynomial hash of the bytes (``sum (byte_j + 1) * B^j mod 2^64``, ``B`` odd), then
    MurmurHash3's 64-bit finalizer, then its top 32 bits. Not cryptographic (crafted strings, e.g.
    Thue-Morse sequences, collide mod 2^64): a MinHash shingle hash only has to spread text evenly,
    and on natural text its 32-bit collisions match SHA-1's and the birthday bound (the corpus
    benchmark counts them). Pass it as datasketch's ``hashfunc`` to reproduce the signatures.
    """
    h = 0
    for byte in reversed(shingle):
        h = (h * _BASE + byte + 1) & _MASK64
    return _fmix64_int(h) >> 32


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (what datasketch applies before its affine permutations)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


class _Powers:
    """``B^j`` and ``B^-j`` mod 2^64 for ``j < n``, grown on demand (one table per process)."""

    def __init__(self) -> None:
        self.up = np.ones(1, dtype=np.uint64)
        self.down = np.ones(1, dtype=np.uint64)

    def __call__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up))
            self.up = np.cumprod(np.full(size, _BASE, dtype=np.uint64)) * np.uint64(_BASE_INVERSE)
            self.down = np.cumprod(np.full(size, _BASE_INVERSE, dtype=np.uint64)) * np.uint64(_BASE)
        return self.up[:n], self.down[:n]


_powers = _Powers()


# ASCII upper case -> lower case, and what str.split() splits ASCII text on -> b" ".
_LOWER_SPACED = bytes.maketrans(
    bytes(range(ord("A"), ord("Z") + 1)) + b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f",
    bytes(range(ord("a"), ord("z") + 1)) + b" " * 9,
)
# What else str.split() splits on (str.isspace()): in lower-cased UTF-8 text, only these are not ASCII.
_UNICODE_WHITESPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def _spaced_words(text: str) -> bytes:
    """The lower-cased UTF-8 text with every whitespace character a space, stripped (runs remain)."""
    if text.isascii():
        return text.encode("ascii").translate(_LOWER_SPACED).strip(b" ")
    lowered = text.lower()
    if _UNICODE_WHITESPACE.search(lowered):
        return " ".join(lowered.split()).encode("utf-8")
    return lowered.encode("utf-8").translate(_LOWER_SPACED).strip(b" ")


def shingle_hashes(texts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hash` of every shingle of :func:`word_shingles` of each text, without building them.

    Returns ``(hashes, counts)``: uint32 hashes, document after document, and int64 shingles per
    document. The texts go into one buffer, lower-cased, with each whitespace run made one space and
    one space between texts: there every shingle is a contiguous span, and prefix sums of
    ``(byte + 1) * B^j`` give every span's polynomial hash at once.
    """
    pieces = [_spaced_words(text) for text in texts]
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    has_words = lengths > 0
    all_have_words = bool(has_words.all())
    if not all_have_words:
        pieces, lengths = [p for p in pieces if p], lengths[has_words]
    buffer = np.frombuffer(b" ".join(pieces), dtype=np.uint8)
    text_starts = np.cumsum(lengths + 1) - (lengths + 1)
    space = buffer == ord(" ")
    repeated = np.flatnonzero(space[1:] & space[:-1]) + 1  # the 2nd, 3rd, ... space of a run
    if len(repeated):
        kept = np.ones(len(buffer), dtype=bool)
        kept[repeated] = False
        buffer, space = buffer[kept], space[kept]
        text_starts -= np.searchsorted(repeated, text_starts)
    # Now words are separated by exactly one space, texts too.
    spaces = np.flatnonzero(space)
    word_starts = np.concatenate([[0], spaces + 1])
    word_ends = np.concatenate([spaces, [len(buffer)]])
    first_word = np.searchsorted(spaces, text_starts)  # of each text
    words = np.diff(first_word, append=len(word_starts) if len(pieces) else 0)
    counts = np.maximum(words - n + 1, 1)
    text = np.repeat(np.arange(len(pieces)), counts)
    shingle = np.arange(len(text)) - np.repeat(np.cumsum(counts) - counts, counts)  # within its text
    first = first_word[text] + shingle
    starts = word_starts[first]
    ends = word_ends[first + np.minimum(n - 1, words[text] - 1 - shingle)]

    up, down = _powers(len(buffer) + 1)
    prefix = np.zeros(len(buffer) + 1, dtype=np.uint64)
    np.add(buffer, np.uint64(1), out=prefix[1:])
    prefix[1:] *= up[: len(buffer)]  # uint64 arithmetic wraps: mod 2^64
    np.cumsum(prefix[1:], out=prefix[1:])
    spans = prefix[ends]
    spans -= prefix[starts]
    spans *= down[starts]
    hashes = (_fmix64(spans) >> np.uint64(32)).astype(np.uint32)
    if all_have_words:
        return hashes, counts
    # A text without words is one shingle, b"", whose hash is 0.
    all_counts = np.ones(len(texts), dtype=np.int64)
    all_counts[has_words] = counts
    all_hashes = np.zeros(int(all_counts.sum()), dtype=np.uint32)
    all_hashes[np.repeat(has_words, all_counts)] = hashes
    return all_hashes, all_counts


@dataclass(frozen=True, eq=False)
class MinHasher:
    """MinHash signatures equal, value for value, to datasketch's with :func:`shingle_hash`.

    That is ``datasketch.MinHash.bulk(shingles, num_perm, seed, scheme="affine32",
    hashfunc=shingle_hash)``: each shingle -> :func:`shingle_hash` -> MurmurHash3 fmix32 ->
    ``a_k * h + b_k mod 2^32`` for each of ``num_perm`` permutations -> the minimum over the
    document's shingles. Here both the shingle hashes and the permutations run vectorised over a
    whole batch (numpy), with no Python object per shingle.
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
        hashes, counts = shingle_hashes(texts, self.shingle_words)
        return self.permute(_fmix32(hashes), counts)

    def permute(self, hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Signatures from fmix32-mixed shingle hashes, ``counts[i]`` (at least 1) per document."""
        ends = np.cumsum(counts)
        starts = ends - counts
        a, b = self.permutations[0][:, None], self.permutations[1][:, None]
        out = np.empty((len(counts), self.num_perm), dtype=np.uint32)
        first = 0
        while first < len(counts):
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
    queried then inserted document by document (with ``MinHash(..., hashfunc=shingle_hash)``).
    """

    def __init__(self, threshold: float, num_perm: int, shingle_words: int, seed: int) -> None:
        self.hasher = MinHasher.from_seed(num_perm, shingle_words, seed)
        self.threshold = threshold
        self._tables: list[set[bytes]] | None = None

    @functools.cached_property
    def bands(self) -> tuple[tuple[int, int], ...]:
        """``(start, end)`` of each band in a signature: datasketch's choice, on first use.

        Importing datasketch imports scipy (a second or more): at the first batch, not when the build
        starts, so that it overlaps the worker processes' start (and they never import it).
        """
        from datasketch import MinHashLSH

        num_perm = self.hasher.num_perm
        try:
            return tuple(MinHashLSH(threshold=self.threshold, num_perm=num_perm).hashranges)
        except ValueError as error:  # e.g. the single band it picks for a high threshold
            raise UserInputError(
                f"corpus.filters.minhash: threshold {self.threshold} with num_perm {num_perm}: {error} "
                "(datasketch's MinHashLSH); lower the threshold or raise num_perm"
            ) from error

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
        if self._tables is None:
            self._tables = [set() for _ in self.bands]
        tables = self._tables
        # Set and dict operations over whole bands (C loops), Python loops only over collisions.
        keep = np.ones(n, dtype=bool)
        shared = np.zeros(n, dtype=bool)  # shares a band key with another document of the batch
        for keys, table in zip(band_keys, tables, strict=True):
            last = dict(zip(keys, range(n), strict=True))  # key -> its last row in the batch
            if len(last) < n:
                last_row = np.fromiter(map(last.__getitem__, keys), dtype=np.int64, count=n)
                earlier = last_row != np.arange(n)
                shared[earlier] = True
                shared[last_row[earlier]] = True
            # Against the documents kept in earlier batches (rows that share a key are decided below).
            keep[[last[key] for key in table.intersection(last)]] = False
        # Within the batch, only documents sharing a band key with another one need deciding in order.
        for i in np.flatnonzero(shared & keep):
            if any(keys[i] in table for keys, table in zip(band_keys, tables, strict=True)):
                keep[i] = False
            else:
                for keys, table in zip(band_keys, tables, strict=True):
                    table.add(keys[i])
        # The rest share no key with any kept document: add them all.
        rest = (keep & ~shared).tolist()
        for keys, table in zip(band_keys, tables, strict=True):
            table.update(itertools.compress(keys, rest))
        return keep

    def __call__(self, table: pa.Table) -> pa.Table:
        signatures = self.signatures(table.column(TEXT).to_pylist())
        return table.filter(pa.array(self.keep(signatures)))
