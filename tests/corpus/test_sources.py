"""Reading documents from ``files`` and ``hf`` sources, and the errors users get for bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pretrainlab.config.schema import CorpusConfig, FilesSource, HFSource
from pretrainlab.corpus.build import build_corpus
from pretrainlab.corpus.sources import iter_documents
from pretrainlab.errors import UserInputError


def _jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    (raw / "deep" / "er").mkdir(parents=True)
    (raw / "a.txt").write_text("A plain text document about the river that floods each spring.")
    (raw / "bad.txt").write_bytes(b"Latin-1 bytes \xe9t\xe9 are not UTF-8 at all, so this is dropped.")
    lines = [{"text": f"Line document number {i} in a gzipped JSON lines file.", "id": i} for i in range(3)]
    (raw / "deep" / "b.jsonl.gz").write_bytes(gzip.compress(_jsonl(lines)))
    (raw / "deep" / "c.json.gz").write_bytes(
        gzip.compress(_jsonl([{"text": "A json.gz document, long enough."}]))
    )
    jsonl = _jsonl([{"text": "A valid jsonl line that survives cleaning."}])
    jsonl += b'{"text": "broken \xff byte"}\n'
    jsonl += b'{"text": "a lone surrogate \\ud800 cannot be encoded as UTF-8"}\n'
    (raw / "deep" / "d.jsonl").write_bytes(jsonl)
    texts = [f"Parquet row {i}: a sentence about lighthouses and tides." for i in range(4)]
    pq.write_table(pa.table({"text": texts, "n": list(range(4))}), raw / "deep" / "er" / "e.parquet")
    return tmp_path


def _config(*sources, **filters) -> CorpusConfig:
    return CorpusConfig(sources=list(sources), filters={"min_chars": 8, **filters}, val_fraction=0.2)


def test_files_source_counts_each_file_and_invalid_utf8(mixed: Path, tmp_path: Path) -> None:
    config = _config(FilesSource(kind="files", glob="raw/**/*"))
    stats = build_corpus(config, seed=0, out_dir=tmp_path / "corpus", root=mixed)
    (source,) = stats.sources
    assert source.origins == {
        "files:raw/a.txt": 1,
        "files:raw/bad.txt": 1,
        "files:raw/deep/b.jsonl.gz": 3,
        "files:raw/deep/c.json.gz": 1,
        "files:raw/deep/d.jsonl": 3,
        "files:raw/deep/er/e.parquet": 4,
    }
    assert source.documents == 13 and source.invalid_utf8 == 3
    assert stats.removed["invalid_utf8"] == 3
    assert stats.documents_out == 10
    written = json.loads((tmp_path / "corpus" / "stats.json").read_text())
    assert written["sources"][0]["origins"]["files:raw/deep/b.jsonl.gz"] == 3
    train = pq.read_table(tmp_path / "corpus" / "train").column("source").to_pylist()
    val = pq.read_table(tmp_path / "corpus" / "val").column("source").to_pylist()
    assert len(train) + len(val) == 10 and len(val) >= 1


def test_glob_matching_nothing_names_the_key(tmp_path: Path) -> None:
    config = _config(FilesSource(kind="files", glob="nowhere/**/*.jsonl"))
    with pytest.raises(UserInputError, match=r"corpus\.sources\[0\]\.glob"):
        build_corpus(config, seed=0, out_dir=tmp_path / "corpus", root=tmp_path)
    assert not (tmp_path / "corpus").exists()


def test_missing_text_field_lists_fields_present(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_bytes(_jsonl([{"body": "hello", "url": "u"}]))
    source = FilesSource(kind="files", glob="*.jsonl")
    with pytest.raises(UserInputError, match=r"x\.jsonl:1.*'text'.*\['body', 'url'\]"):
        list(iter_documents(source, "corpus.sources[0]", tmp_path))
    pq.write_table(pa.table({"content": ["a"]}), tmp_path / "y.parquet")
    with pytest.raises(UserInputError, match=r"y\.parquet.*'text'.*\['content'\]"):
        list(iter_documents(FilesSource(kind="files", glob="*.parquet"), "corpus.sources[0]", tmp_path))


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    data = gzip.compress(_jsonl([{"text": f"document {i} " * 20} for i in range(200)]))
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserInputError, match=r"cut\.jsonl\.gz.*truncated or corrupt gzip"):
        list(iter_documents(FilesSource(kind="files", glob="*.gz"), "corpus.sources[0]", tmp_path))


def test_unparseable_json_line_and_corrupt_parquet_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_bytes(_jsonl([{"text": "fine"}]) + b"{not json\n")
    with pytest.raises(UserInputError, match=r"x\.jsonl:2"):
        list(iter_documents(FilesSource(kind="files", glob="*.jsonl"), "corpus.sources[0]", tmp_path))
    (tmp_path / "z.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(UserInputError, match=r"z\.parquet"):
        list(iter_documents(FilesSource(kind="files", glob="*.parquet"), "corpus.sources[0]", tmp_path))


def test_unsupported_format_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(UserInputError, match=r"corpus\.sources\[2\]\.glob.*notes\.csv"):
        list(iter_documents(FilesSource(kind="files", glob="*"), "corpus.sources[2]", tmp_path))


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep ``load_dataset``'s Arrow cache inside the test's tmp dir, and never touch the network."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    return tmp_path


@pytest.mark.parametrize("streaming", [False, True])
def test_hf_source_reads_a_local_dataset_directory(hf_cache: Path, streaming: bool) -> None:
    local = hf_cache / "local_ds"
    local.mkdir()
    (local / "part0.jsonl").write_bytes(_jsonl([{"text": f"story {i}", "label": i} for i in range(5)]))
    (local / "part1.jsonl").write_bytes(_jsonl([{"text": f"story {i}", "label": i} for i in range(5, 8)]))
    source = HFSource(kind="hf", path="local_ds", max_documents=6, streaming=streaming)
    docs = list(iter_documents(source, "corpus.sources[0]", hf_cache))
    assert len(docs) == 6 and all(d.origin == "hf:local_ds" for d in docs)
    assert {d.text for d in docs} <= {f"story {i}" for i in range(8)}


def test_hf_source_reads_parquet_and_save_to_disk_dirs(hf_cache: Path) -> None:
    import datasets

    (hf_cache / "pq").mkdir()
    pq.write_table(pa.table({"text": ["p0", "p1"]}), hf_cache / "pq" / "train.parquet")
    docs = list(iter_documents(HFSource(kind="hf", path="pq"), "corpus.sources[0]", hf_cache))
    assert [d.text for d in docs] == ["p0", "p1"]

    datasets.Dataset.from_dict({"body": ["s0", "s1", "s2"]}).save_to_disk(str(hf_cache / "saved"))
    source = HFSource(kind="hf", path=str(hf_cache / "saved"), text_field="body")
    assert [d.text for d in iter_documents(source, "corpus.sources[0]", hf_cache)] == ["s0", "s1", "s2"]
    wrong = HFSource(kind="hf", path=str(hf_cache / "saved"))
    with pytest.raises(UserInputError, match=r"corpus\.sources\[0\]\.text_field.*\['body'\]"):
        list(iter_documents(wrong, "corpus.sources[0]", hf_cache))


def test_hf_dataset_absent_offline_says_what_to_download(hf_cache: Path) -> None:
    source = HFSource(kind="hf", path="someone/not-downloaded")
    with pytest.raises(
        UserInputError, match=r"corpus\.sources\[0\]\.path.*someone/not-downloaded.*[Dd]ownload"
    ):
        list(iter_documents(source, "corpus.sources[0]", hf_cache))
