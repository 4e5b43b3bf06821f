"""The whole corpus build: stats, shards, atomicity, the empty-corpus error, the val guarantee."""

from __future__ import annotations

import gzip
import json
import random
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pretrainlab.config.schema import CorpusConfig, FilesSource, SynthworldSource
from pretrainlab.corpus.build import build_corpus
from pretrainlab.corpus.shards import ShardWriter
from pretrainlab.corpus.split import split_key
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


def _write_jsonl(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


def _read(out: Path, split: str) -> list[str]:
    return pq.read_table(out / split).column("text").to_pylist()


def test_empty_after_filters_names_the_filter_and_writes_nothing(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "short.jsonl", [f"tiny {i}" for i in range(120)])
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="*.jsonl")], filters={"min_chars": 32})
    out = tmp_path / "corpus"
    with pytest.raises(UserInputError) as err:
        build_corpus(config, seed=0, out_dir=out, root=tmp_path)
    assert str(err.value) == (
        "corpus is empty after filters: 120 documents in, too_short removed 120 (corpus.filters.min_chars=32)"
    )
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["short.jsonl"]  # no temporary left behind


def test_build_counts_every_filter_and_keeps_a_val_document(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(0)
    docs = [" ".join(rng.choice(WORDS) for _ in range(60)) for _ in range(30)]
    near = docs[0].split()
    near[30] = "CHANGED"
    texts = docs + [docs[1], "  " + docs[2].replace(" ", "   "), " ".join(near), "short", "x" * 5000]
    _write_jsonl(tmp_path / "a.jsonl", texts)
    config = CorpusConfig(
        sources=[FilesSource(kind="files", glob="*.jsonl")],
        filters={"min_chars": 10, "max_chars": 1000, "minhash": {"threshold": 0.8, "num_perm": 64}},
        val_fraction=0.01,  # 30 documents * 1% rounds to none: one must still reach val
    )
    out = tmp_path / "corpus"
    stats = build_corpus(config, seed=0, out_dir=out, root=tmp_path)
    assert stats.removed == {
        "invalid_utf8": 0,
        "too_short": 1,
        "too_long": 1,
        "exact_duplicates": 2,  # the copy, and the copy with extra spaces once whitespace is normalised
        "near_duplicates": 1,
    }
    assert stats.documents_in == 35 and stats.documents_out == 30
    train, val = _read(out, "train"), _read(out, "val")
    assert len(val) == 1 and sorted(train + val) == sorted(docs)
    assert "val split would be empty" in caplog.text
    written = json.loads((out / "stats.json").read_text())
    assert written["splits"]["val"]["documents"] == len(val)
    assert written["splits"]["train"]["chars"] == sum(len(t) for t in train)

    again = build_corpus(config, seed=0, out_dir=out, root=tmp_path)  # rebuild replaces, deterministically
    assert again == stats and _read(out, "train") == train and _read(out, "val") == val


def test_tiny_corpus_still_gets_both_splits(tmp_path: Path) -> None:
    candidates = (f"a document numbered {i} for the split test" for i in range(1000))
    both_val = [t for t in candidates if split_key(t) < 0.3][:2]  # both would land in val
    _write_jsonl(tmp_path / "a.jsonl", both_val)
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="*.jsonl")], val_fraction=0.3)
    stats = build_corpus(config, seed=0, out_dir=tmp_path / "corpus", root=tmp_path)
    assert stats.splits["train"].documents == stats.splits["val"].documents == 1
    _write_jsonl(tmp_path / "a.jsonl", both_val[:1])
    with pytest.raises(UserInputError, match="at least 2"):
        build_corpus(config, seed=0, out_dir=tmp_path / "other", root=tmp_path)


def test_synthworld_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def generate_documents(documents: int, entities: int, seed: int) -> Iterator[str]:
        rng = random.Random(seed)
        for i in range(documents):
            yield f"Document {i}: " + " ".join(rng.choice(WORDS) for _ in range(40))

    fake = types.ModuleType("pretrainlab.synthworld")
    fake.generate_documents = generate_documents  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pretrainlab.synthworld", fake)
    config = CorpusConfig(sources=[SynthworldSource(kind="synthworld", documents=200, entities=20, seed=3)])
    stats = build_corpus(config, seed=0, out_dir=tmp_path / "corpus")
    assert stats.sources[0].origins == {"synthworld": 200}
    assert (
        stats.splits["train"].documents + stats.splits["val"].documents
        == 200 - stats.removed["near_duplicates"]
    )


def test_shard_writer_bounds_documents_and_bytes(tmp_path: Path) -> None:
    import pyarrow as pa

    writer = ShardWriter(tmp_path / "train", max_documents=10, max_bytes=100, row_group_documents=3)
    for start in range(0, 25, 7):
        texts = [f"doc{i:03d}" + "y" * (40 if i == 20 else 0) for i in range(start, min(start + 7, 25))]
        writer.write(pa.table({"text": texts, "source": ["s"] * len(texts)}))
    writer.close()
    shards = [pq.read_table(p) for p in writer.paths]
    assert [s.num_rows for s in shards] == [10, 10, 5]  # 6 bytes a doc: 10 docs fit under 100 bytes
    assert [t for s in shards for t in s.column("text").to_pylist()][:3] == ["doc000", "doc001", "doc002"]
    big = ShardWriter(tmp_path / "val", max_documents=10, max_bytes=20)
    big.write(pa.table({"text": ["a" * 50, "b", "c" * 30], "source": ["s"] * 3}))
    big.close()
    assert [pq.read_table(p).num_rows for p in big.paths] == [1, 1, 1]
    assert big.documents == 3 and big.bytes == 81


def test_output_is_the_same_for_any_number_of_workers(tmp_path: Path) -> None:
    rng = random.Random(4)
    docs = [" ".join(rng.choice(WORDS) + str(rng.randrange(9)) for _ in range(30)) for _ in range(4500)]
    docs += docs[:300] + [d.replace(" ", "  ", 3) + " extra" for d in docs[300:900]] + ["tiny"] * 50
    rng.shuffle(docs)
    _write_jsonl(tmp_path / "a.jsonl", docs)  # 5450 documents: 3 batches, so workers really run
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="*.jsonl")], filters={"min_chars": 10})
    one = build_corpus(config, seed=0, out_dir=tmp_path / "one", root=tmp_path, workers=1)
    two = build_corpus(config, seed=0, out_dir=tmp_path / "two", root=tmp_path, workers=2)
    assert one == two and one.removed["exact_duplicates"] >= 300 and one.removed["near_duplicates"] > 100
    for split in ("train", "val"):
        assert _read(tmp_path / "one", split) == _read(tmp_path / "two", split)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_line_parsed_in_a_worker_is_reported_first_with_its_line(tmp_path: Path, workers: int) -> None:
    good = [json.dumps({"text": f"document {i} about the {WORDS[i % 12]}"}) for i in range(5000)]
    lines = [*good[:10], "", *good[10:4900], '{"body": "no text field"}', *good[4900:]]  # line 4902
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    later = "".join(json.dumps({"text": f"{random.random()}"}) + "\n" for _ in range(2000)).encode()
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(later)[:2000])  # truncated: read after a.jsonl
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="*.jsonl*")])
    with pytest.raises(UserInputError, match=r"a\.jsonl:4902: no text field 'text'.*\['body'\]"):
        build_corpus(config, seed=0, out_dir=tmp_path / "corpus", root=tmp_path, workers=workers)
    assert not (tmp_path / "corpus").exists()
