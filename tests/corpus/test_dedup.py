"""Exact and MinHash near-duplicate removal."""

from __future__ import annotations

import random

import pyarrow as pa

from pretrainlab.corpus.dedup import ExactDedup, NearDedup, word_shingles

WORDS = [
    "river",
    "stone",
    "lamp",
    "harbor",
    "violet",
    "copper",
    "engine",
    "orchard",
    "falcon",
    "meadow",
    "lantern",
    "silver",
]


def _doc(rng: random.Random, n: int = 200) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def test_exact_dedup_keeps_first_occurrence_across_batches() -> None:
    dedup = ExactDedup()
    first = dedup(pa.table({"text": ["x y", "z", "x y"], "source": ["a", "b", "c"]}))
    assert first.column("source").to_pylist() == ["a", "b"]
    assert dedup(pa.table({"text": ["z", "w"], "source": ["d", "e"]})).column("text").to_pylist() == ["w"]


def test_minhash_removes_a_one_word_edit_but_keeps_distinct_documents() -> None:
    rng = random.Random(0)
    originals = [_doc(rng) for _ in range(20)]
    words = originals[3].split()
    words[100] = "CHANGED"
    near_copy = " ".join(words)
    dedup = NearDedup(threshold=0.8, num_perm=128, shingle_words=5, seed=0)
    kept = dedup(pa.table({"text": originals})).column("text").to_pylist()
    assert kept == originals
    assert dedup(pa.table({"text": [near_copy, _doc(rng)]})).num_rows == 1


def test_minhash_is_deterministic() -> None:
    rng = random.Random(1)
    texts = [_doc(rng, 40) for _ in range(10)]
    a = NearDedup(0.8, 64, 3, seed=7).signatures(texts)
    b = NearDedup(0.8, 64, 3, seed=7).signatures(texts)
    assert all((x.hashvalues == y.hashvalues).all() for x, y in zip(a, b, strict=True))


def test_word_shingles() -> None:
    assert word_shingles("A b  C", 2) == [b"a b", b"b c"]
    assert word_shingles("short", 5) == [b"short"]
