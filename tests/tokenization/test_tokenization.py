"""Train the BPE, load it with stock transformers, encode the corpus, read the token stream back."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from pretrainlab.config.schema import CorpusConfig, FilesSource, TokenizerConfig
from pretrainlab.corpus.build import build_corpus
from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.load import load_tokenizer, tokenizer_fingerprint
from pretrainlab.tokenization.pipeline import tokenize
from pretrainlab.tokenization.specials import reserved_tokens
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.tokenization.train_bpe import train_tokenizer

NAMES = ["Ana", "Bérénice", "Chidi", "Dmitri", "Eun-ji", "Farah", "Gökhan", "Hiroshi"]
PLACES = ["Port Ilse", "Valmora", "Quennick", "São Brite", "Østerlund"]
CONFIG = TokenizerConfig(vocab_size=600, sentinels=100)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tok")
    rng = random.Random(0)
    lines = []
    for i in range(400):
        who, where = rng.choice(NAMES), rng.choice(PLACES)
        text = f"{who} was born in {where} in {1800 + rng.randrange(200)}. Record {i}.\n\n"
        text += (
            f"{who} moved to {rng.choice(PLACES)} and worked as a {rng.choice(['baker', 'pilot', 'clerk'])}."
        )
        lines.append(json.dumps({"text": text}) + "\n")
    (root / "docs.jsonl").write_text("".join(lines))
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="*.jsonl")], filters={"minhash": None})
    build_corpus(config, seed=0, out_dir=root / "corpus", root=root)
    return root / "corpus"


@pytest.fixture(scope="module")
def tokenizer_dir(corpus: Path) -> Path:
    out = corpus.parent / "tokenizer"
    train_tokenizer(corpus, CONFIG, out)
    return out


def test_trained_tokenizer_loads_with_autotokenizer_and_specials_come_first(tokenizer_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    reserved = reserved_tokens(100)
    assert tok.convert_ids_to_tokens(list(range(len(reserved)))) == reserved
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id) == (
        0,
        1,
        2,
        3,
        4,
    )
    assert len(tok) == CONFIG.vocab_size
    text = "Gökhan moved to Østerlund  in 1887.\n\nSome unseen bytes: ✓ 東京 \t tab"
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text
    assert tok.encode("<extra_id_7>", add_special_tokens=False) == [tok.convert_tokens_to_ids("<extra_id_7>")]
    _, specials = load_tokenizer(tokenizer_dir)
    assert specials.eos == 2 and specials.sentinels[:2] == (8, 9) and specials.vocab_size == 600


def test_training_is_deterministic(corpus: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    train_tokenizer(corpus, CONFIG, tmp_path / "again")
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (
        tokenizer_dir / "tokenizer.json"
    ).read_bytes()
    assert tokenizer_fingerprint(tmp_path / "again") == tokenizer_fingerprint(tokenizer_dir)


def test_vocab_too_small_names_the_key(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"tokenizer\.vocab_size=364.*must exceed 364"):
        train_tokenizer(corpus, TokenizerConfig(vocab_size=364, sentinels=100), tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_token_stream_round_trips_documents(corpus: Path, tmp_path: Path) -> None:
    meta = tokenize(CONFIG, corpus, tmp_path / "tokenizer", tmp_path / "tokens")
    tok, specials = load_tokenizer(tmp_path / "tokenizer")
    for split in ("train", "val"):
        texts = pq.read_table(corpus / split).column("text").to_pylist()
        stream = TokenStream.open(tmp_path / "tokens", split)
        assert stream.tokens.dtype == np.uint16 and not stream.tokens.flags.writeable
        assert (
            (tmp_path / "tokens" / f"{split}.bin").stat().st_size
            == 2 * len(stream)
            == 2 * meta["tokens"][split]
        )
        assert stream.num_documents == len(texts) == meta["documents"][split]
        assert meta["bytes"][split] == sum(len(t.encode()) for t in texts)
        ends = np.append(stream.doc_starts[1:], len(stream)) - 1
        assert (stream.tokens[ends] == specials.eos).all()
        assert int((stream.tokens == specials.eos).sum()) == len(texts)
        for i in (0, len(texts) // 2, len(texts) - 1):
            assert tok.decode(stream.document(i).tolist()) == texts[i]
    assert meta["tokenizer_sha256"] == tokenizer_fingerprint(tmp_path / "tokenizer")


def test_token_stream_rejects_a_truncated_bin(corpus: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    from pretrainlab.tokenization.encode import encode_corpus

    encode_corpus(corpus, tokenizer_dir, tmp_path / "tokens")
    path = tmp_path / "tokens" / "val.bin"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(UserInputError, match=r"val\.bin"):
        TokenStream.open(tmp_path / "tokens", "val")


def test_pretrained_tokenizer_is_copied_and_checked(
    corpus: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    config = TokenizerConfig(pretrained=str(tokenizer_dir), sentinels=100)
    meta = tokenize(config, corpus, tmp_path / "tokenizer", tmp_path / "tokens")
    assert meta["vocab_size"] == 600
    assert AutoTokenizer.from_pretrained(str(tmp_path / "tokenizer")).encode(
        "Valmora"
    ) == AutoTokenizer.from_pretrained(str(tokenizer_dir)).encode("Valmora")
    too_many = TokenizerConfig(pretrained=str(tokenizer_dir), sentinels=200)
    with pytest.raises(UserInputError, match=r"tokenizer\.pretrained.*100 sentinels"):
        tokenize(too_many, corpus, tmp_path / "t2", tmp_path / "k2")
    assert not (tmp_path / "t2").exists() and not (tmp_path / "k2").exists()


def test_load_tokenizer_errors_name_the_directory(tokenizer_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserInputError, match=rf"{empty}.*no tokenizer\.json"):
        load_tokenizer(empty)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json")
    with pytest.raises(UserInputError, match=rf"{broken}: cannot read"):
        load_tokenizer(broken)

    lacking = tmp_path / "lacking"
    lacking.mkdir()
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "[NLG]"]
    del data["model"]["vocab"]["[NLG]"]
    (lacking / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(UserInputError, match=rf"{lacking}.*\[NLG\]"):
        load_tokenizer(lacking)
