"""Weighted pretraining mixtures: the train token stream holds each source in its declared share."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pretrainlab.config.schema import CorpusConfig, FilesSource, TokenizerConfig
from pretrainlab.corpus.build import build_corpus
from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.pipeline import tokenize
from pretrainlab.tokenization.token_stream import META_KEYS, TokenStream
from tests.config.mutated_smoke import mutated_errors

# Three sources told apart by their first word; the documents of each differ in number and length.
SOURCES = {"alpha": (300, 40), "beta": (200, 25), "gamma": (60, 30)}
WEIGHTS = {"alpha": 1.0, "beta": 1.0, "gamma": 2.0}  # gamma: ~10% as-is, 50% declared (upsampled)
WORDS = ["river", "stone", "lamp", "harbor", "violet", "copper", "engine", "orchard", "falcon", "meadow"]
TOKENIZER = TokenizerConfig(vocab_size=400, sentinels=4)
FILTERS = {"minhash": None}


def _write_sources(root: Path) -> None:
    rng = random.Random(0)
    for tag, (documents, words) in SOURCES.items():
        lines = []
        for i in range(documents):
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(words // 2, words * 2)))
            lines.append(json.dumps({"text": f"{tag} {i}: {body}."}) + "\n")
        with gzip.open(root / f"{tag}.jsonl.gz", "wt") as handle:
            handle.write("".join(lines))


def _config(weights: dict[str, float] | None) -> CorpusConfig:
    return CorpusConfig(
        sources=[
            FilesSource(
                kind="files", glob=f"{tag}.jsonl.gz", weight=None if weights is None else weights[tag]
            )
            for tag in SOURCES
        ],
        filters=FILTERS,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root``: the sources, then a weighted (``mixed/``) and an unweighted (``plain/``) build."""
    root = tmp_path_factory.mktemp("mixture")
    _write_sources(root)
    for name, weights in (("mixed", WEIGHTS), ("plain", None)):
        build_corpus(_config(weights), seed=7, out_dir=root / name / "corpus", root=root, workers=1)
        tokenize(TOKENIZER, root / name / "corpus", root / name / "tokenizer", root / name / "tokens")
    return root


def _stream_by_source(
    tokens_dir: Path, tokenizer_dir: Path
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Tokens (with each document's </s>), documents and distinct texts per source, read off train.bin."""
    tokenizer, _ = load_tokenizer(tokenizer_dir)
    stream = TokenStream.open(tokens_dir, "train")
    tokens: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    texts: dict[str, set[str]] = {tag: set() for tag in SOURCES}
    for i in range(stream.num_documents):
        text = tokenizer.decode(stream.document(i).tolist())
        tag = text.split(" ", 1)[0]
        tokens[tag] += len(stream.document(i)) + 1
        documents[tag] += 1
        texts[tag].add(text)
    return tokens, documents, Counter({tag: len(seen) for tag, seen in texts.items()})


def test_the_train_stream_holds_each_source_in_its_declared_share(built: Path) -> None:
    tokens, documents, distinct = _stream_by_source(built / "mixed" / "tokens", built / "mixed" / "tokenizer")
    total = sum(tokens.values())
    declared = {tag: w / sum(WEIGHTS.values()) for tag, w in WEIGHTS.items()}
    for tag, share in declared.items():
        assert tokens[tag] / total == pytest.approx(share, rel=0.01), tag
    # The stream keeps the unmixed size; gamma is repeated, alpha subsampled without repeats.
    plain = TokenStream.open(built / "plain" / "tokens", "train")
    assert total == pytest.approx(len(plain), rel=0.01)
    assert documents["gamma"] > 3 * distinct["gamma"] and documents["alpha"] == distinct["alpha"]

    meta = json.loads((built / "mixed" / "tokens" / "meta.json").read_text())
    rows = {row["key"]: row for row in meta["mixture"]["sources"]}
    for i, tag in enumerate(SOURCES):
        row = rows[f"corpus.sources[{i}]"]
        assert (row["weight"], row["declared"]) == (WEIGHTS[tag], pytest.approx(declared[tag]))
        assert (row["tokens"], row["documents_in_stream"]) == (tokens[tag], documents[tag])
        assert row["repeats"] == documents[tag] - distinct[tag]
        assert row["actual"] == pytest.approx(tokens[tag] / total)
    assert meta["tokens"]["train"] == total == len(TokenStream.open(built / "mixed" / "tokens", "train"))


def test_the_corpus_records_the_declared_mixture_and_is_not_resampled(built: Path) -> None:
    stats = json.loads((built / "mixed" / "corpus" / "stats.json").read_text())
    shards = pq.read_table(built / "mixed" / "corpus" / "train")
    per_origin = Counter(shards.column("source").to_pylist())
    for i, tag in enumerate(SOURCES):
        row = stats["mixture"]["sources"][i]
        assert row["key"] == f"corpus.sources[{i}]" and row["origins"] == [f"files:{tag}.jsonl.gz"]
        assert row["declared"] == pytest.approx(WEIGHTS[tag] / 4)
        assert row["documents"]["train"] == per_origin[f"files:{tag}.jsonl.gz"]
        assert row["documents"]["train"] + row["documents"]["val"] == SOURCES[tag][0]
    # Weights change what the corpus records, never its shards (nor the tokenizer trained on them).
    for split in ("train", "val"):
        assert pq.read_table(built / "mixed" / "corpus" / split).equals(
            pq.read_table(built / "plain" / "corpus" / split)
        )
    assert (built / "mixed" / "tokenizer" / "tokenizer.json").read_bytes() == (
        built / "plain" / "tokenizer" / "tokenizer.json"
    ).read_bytes()


def test_without_weights_the_outputs_are_as_before(built: Path) -> None:
    stats = json.loads((built / "plain" / "corpus" / "stats.json").read_text())
    assert "mixture" not in stats
    meta = json.loads((built / "plain" / "tokens" / "meta.json").read_text())
    assert sorted(meta) == sorted(META_KEYS)
    # The unmixed stream is the train shards in order, as it always was.
    tokenizer, _ = load_tokenizer(built / "plain" / "tokenizer")
    stream = TokenStream.open(built / "plain" / "tokens", "train")
    texts = pq.read_table(built / "plain" / "corpus" / "train").column("text").to_pylist()
    assert [tokenizer.decode(stream.document(i).tolist()) for i in (0, len(texts) - 1)] == [
        texts[0],
        texts[-1],
    ]


def test_a_weighted_source_without_documents_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    with gzip.open(tmp_path / "empty.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"text": "too short"}) + "\n")
    config = CorpusConfig(
        sources=[
            FilesSource(kind="files", glob="alpha.jsonl.gz", weight=1.0),
            FilesSource(kind="files", glob="empty.jsonl.gz", weight=0.5),
        ],
        filters=FILTERS,
    )
    with pytest.raises(UserInputError, match=r"^corpus\.sources\[1\]\.weight: 0\.5, but the source has no"):
        build_corpus(config, seed=0, out_dir=tmp_path / "corpus", root=tmp_path, workers=1)
    assert not (tmp_path / "corpus").exists()


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ((1.0, -0.5), "corpus.sources[1].weight: Input should be greater than or equal to 0"),
        ((0.0, 0.0), "corpus: Value error, corpus.sources[0].weight to corpus.sources[1].weight: all 0;"),
        ((1.0, None), "corpus: Value error, corpus.sources[1].weight: missing;"),
    ],
)
def test_bad_weights_are_named_by_validation(tmp_path: Path, weights: tuple, error: str) -> None:
    def mutate(params: dict) -> None:
        first = params["corpus"]["sources"][0]
        params["corpus"]["sources"] = [
            {**first, "weight": weights[0]},
            {"kind": "files", "glob": "more/*.jsonl", "weight": weights[1]},
        ]
        for source in params["corpus"]["sources"]:
            if source["weight"] is None:
                del source["weight"]

    errors = mutated_errors(tmp_path, mutate)
    assert any(line.startswith(error) for line in errors), errors
