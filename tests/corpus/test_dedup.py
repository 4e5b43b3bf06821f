"""Exact and MinHash near-duplicate removal."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash, MinHashLSH

from pretrainlab.corpus.dedup import (
    _UNICODE_WHITESPACE,
    ExactDedup,
    NearDedup,
    shingle_hash,
    shingle_hashes,
    word_shingles,
)
from pretrainlab.errors import UserInputError

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
    assert a.shape == (10, 64) and a.dtype == np.uint32 and (a == b).all()
    assert (a != NearDedup(0.8, 64, 3, seed=8).signatures(texts)).any()


def _varied_texts(rng: random.Random) -> list[str]:
    texts = [_doc(rng, rng.randrange(1, 300)) for _ in range(300)]
    texts += [
        "",
        "one",
        "Zwei Wörter",
        "ÉCOLE École straße STRASSE",
        "a\x1cb c d e f g",
        "東京 大阪 京都 札幌 福岡 那覇",
    ]
    for i in range(0, 120, 3):  # near copies, some within a batch, some across
        words = texts[i].split()
        words[len(words) // 2] = "CHANGED"
        texts.append(" ".join(words))
    rng.shuffle(texts)
    return texts


def test_signatures_and_decisions_equal_datasketch() -> None:
    rng = random.Random(2)
    texts = _varied_texts(rng)
    dedup = NearDedup(threshold=0.7, num_perm=96, shingle_words=3, seed=5)
    reference = MinHash.bulk(
        [word_shingles(t, 3) for t in texts], num_perm=96, seed=5, scheme="affine32", hashfunc=shingle_hash
    )
    signatures = dedup.signatures(texts)
    assert all((m.hashvalues == signatures[i]).all() for i, m in enumerate(reference))

    lsh = MinHashLSH(threshold=0.7, num_perm=96)
    expected = []
    for i, minhash in enumerate(reference):
        duplicate = bool(lsh.query(minhash))
        if not duplicate:
            lsh.insert(i, minhash, check_duplication=False)
        expected.append(not duplicate)
    keep = np.concatenate([dedup.keep(signatures[i : i + 50]) for i in range(0, len(texts), 50)])
    assert keep.tolist() == expected
    assert 30 <= expected.count(False) < 60  # the near copies (and nothing much else) go


def test_word_shingles() -> None:
    assert word_shingles("A b  C", 2) == [b"a b", b"b c"]
    assert word_shingles("short", 5) == [b"short"]
    assert word_shingles("", 5) == [b""]
    # The bytes fast path and the str path split on the same whitespace (str.split's, incl. \x1c).
    assert word_shingles("a\x1cb c", 2) == [b"a b", b"b c"]
    assert word_shingles("É\u00a0b c", 2) == ["é b".encode(), b"b c"]


def test_vectorised_shingle_hashes_equal_hashing_each_shingle() -> None:
    rng = random.Random(3)
    pieces = ["ab", "C", "DEF", "é", "İ", "\u212a", "ΑΣ"]  # Kelvin sign lower-cases to ASCII; final sigma
    pieces += [" ", "  ", "\n", "\t", "\x1d", "\xa0", "\x85", "\u3000", "\x00"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40))) for _ in range(300)]
    texts += ["", " ", "one", "  A b  C d\ne  "]
    for n in (1, 2, 5):
        for batch in (texts, [""], ["a"], []):
            hashes, counts = shingle_hashes(batch, n)
            shingles = [word_shingles(t, n) for t in batch]
            assert counts.tolist() == [len(s) for s in shingles]
            assert hashes.tolist() == [shingle_hash(s) for doc in shingles for s in doc]


def test_the_unicode_whitespace_pattern_is_every_non_ascii_character_str_split_splits_on() -> None:
    non_ascii_spaces = [chr(c) for c in range(128, sys.maxunicode + 1) if chr(c).isspace()]
    assert [
        c for c in map(chr, range(128, sys.maxunicode + 1)) if _UNICODE_WHITESPACE.match(c)
    ] == non_ascii_spaces


def test_shingle_hash_spreads_distinct_shingles_evenly() -> None:
    """Distinct shingles get distinct 32-bit hashes as often as random values would, bits balanced."""
    rng = random.Random(4)
    shingles = {f"{_doc(rng, 3)} {i}".encode() for i in range(60_000)}
    hashes = [shingle_hash(s) for s in shingles]
    assert all(0 <= h < 2**32 for h in hashes)
    # 60k random 32-bit values collide about 0.4 times; a weak hash collides by the thousand.
    assert len(shingles) - len(set(hashes)) <= 5
    # Every bit is set about half the time.
    bits = np.array(hashes, dtype=np.uint64)[:, None] >> np.arange(32, dtype=np.uint64) & np.uint64(1)
    assert np.abs(bits.mean(axis=0) - 0.5).max() < 0.02


def test_near_dedup_constructs_without_importing_datasketch_or_scipy() -> None:
    """The import (scipy's, a second or more) waits for the first batch, overlapping the workers' start."""
    code = (
        "import sys; from pretrainlab.corpus.dedup import NearDedup; NearDedup(0.8, 128, 5, 0);"
        "print(sorted({'datasketch', 'scipy'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "[]\n"


def test_a_threshold_leaving_one_band_is_a_user_error() -> None:
    near = NearDedup(0.95, 16, 5, 0)
    with pytest.raises(
        UserInputError, match=r"corpus\.filters\.minhash: threshold 0\.95 with num_perm 16: .*band"
    ):
        near.keep(np.zeros((1, 16), dtype=np.uint32))
