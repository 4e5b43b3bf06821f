"""Cleaning steps on tiny literal batches, and the stable train/val split."""

from __future__ import annotations

import random

import pyarrow as pa

from pretrainlab.corpus import cleaning
from pretrainlab.corpus.split import split_key, split_keys, split_table


def _texts(table: pa.Table) -> list[str]:
    return table.column("text").to_pylist()


def test_nfc_composes_combining_marks() -> None:
    out = cleaning.nfc(pa.table({"text": ["caf" + "e\u0301", "\u00e9"], "source": ["a", "b"]}))
    assert _texts(out) == ["caf\u00e9", "\u00e9"]
    assert out.column("source").to_pylist() == ["a", "b"]


def test_whitespace_collapses_runs_and_keeps_paragraphs() -> None:
    batch = pa.table(
        {"text": ["  one \t\t two\u00a0 three  ", "line a  \r\nline b\r\n\r\n\r\n\n  para 2\t", "\n\n"]}
    )
    assert _texts(cleaning.normalize_whitespace(batch)) == ["one two three", "line a\nline b\n\npara 2", ""]


def test_horizontal_space_collapse_matches_replacing_every_run() -> None:
    import unicodedata

    import pyarrow.compute as pc

    separators = [chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) in ("Zs", "Zl", "Zp")]
    alphabet = [*separators, "\t", "\x0b", "\x0c", "\n", "\r", "\x85", "\x1c", "a", "é", "  "]
    rng = random.Random(0)
    texts = pa.array(["".join(rng.choices(alphabet, k=rng.randrange(12))) for _ in range(20000)])
    every_run = pc.replace_substring_regex(texts, pattern=r"[\t\x0B\x0C\pZ]+", replacement=" ")
    collapsed = pc.replace_substring_regex(
        texts, pattern=cleaning._HORIZONTAL_SPACE_TO_COLLAPSE, replacement=" "
    )
    assert collapsed.equals(every_run)


def test_cleaning_equals_the_plain_regex_steps() -> None:
    """The shortcuts (literal replaces, regexes skipped where their text does not occur) change nothing."""
    import pyarrow.compute as pc

    def reference(text: pa.ChunkedArray) -> list[str]:
        text = pc.utf8_normalize(text, form="NFC")
        for pattern, replacement in [
            (r"\r\n?", "\n"),
            (r"[\t\x0B\x0C\pZ]+", " "),
            (r" ?\n ?", "\n"),
            (r"\n{3,}", "\n\n"),
        ]:
            text = pc.replace_substring_regex(text, pattern=pattern, replacement=replacement)
        return pc.utf8_trim_whitespace(text).to_pylist()

    alphabet = ["a", "B", "é", "e\u0301", "\u00a0", "\u2028", "\u3000", " ", "  ", "\t", "\n", "\r", "\x85"]
    rng = random.Random(5)
    batches = [["".join(rng.choices(alphabet, k=rng.randrange(16))) for _ in range(500)] for _ in range(20)]
    batches += [["a  b\n\n\n c", "d \r\n e"], ["plain ascii", ""], [], ["only\nnewlines\n"]]
    for texts in batches:
        chunks = [pa.array(texts[:7], pa.string()), pa.array(texts[7:], pa.string())]
        table = pa.table({"text": pa.chunked_array(chunks)})
        cleaned = cleaning.normalize_whitespace(cleaning.nfc(table))
        assert _texts(cleaned) == reference(table.column("text"))


def test_length_filters_count_characters_not_bytes() -> None:
    batch = pa.table({"text": ["ééé", "ab", "abcdef"]})
    assert _texts(cleaning.drop_too_short(batch, 3)) == ["ééé", "abcdef"]
    assert _texts(cleaning.drop_too_long(batch, 3)) == ["ééé", "ab"]


def test_split_depends_only_on_text() -> None:
    texts = [f"document {i} about something" for i in range(500)]
    train, val = split_table(pa.table({"text": texts}), 0.1)
    shuffled = texts[:]
    random.Random(1).shuffle(shuffled)
    train2, val2 = split_table(pa.table({"text": shuffled[:300]}), 0.1)
    assert set(_texts(val2)) == set(_texts(val)) & set(shuffled[:300])
    assert set(_texts(train2)) == set(_texts(train)) & set(shuffled[:300])
    assert 20 < val.num_rows < 80
    assert all(0.0 <= split_key(t) < 1.0 for t in texts[:10])


def test_batch_split_keys_equal_each_documents_split_key() -> None:
    rng = random.Random(2)
    texts = ["", "é", "東京 大阪"] + [" ".join(str(rng.random()) for _ in range(5)) for _ in range(3000)]
    assert split_keys(pa.table({"text": texts})).tolist() == [split_key(t) for t in texts]
