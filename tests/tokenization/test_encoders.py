"""The tiktoken fast path gives the tokenizer's own ids, and the stage falls back when it would not."""

from __future__ import annotations

import json
import logging
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Regex, Tokenizer, pre_tokenizers

from pretrainlab.config.schema import CorpusConfig, FilesSource, TokenizerConfig
from pretrainlab.corpus.build import build_corpus
from pretrainlab.synthworld import generate_documents
from pretrainlab.tokenization import encoders
from pretrainlab.tokenization.encode import encode_corpus
from pretrainlab.tokenization.encoders import HFEncoder, TiktokenEncoder, choose_encoder, first_difference
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.tiktoken_bpe import GPT2_PATTERN, NotEquivalent, tiktoken_encoding
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.tokenization.train_bpe import train_tokenizer

ODD = [
    "Emoji 🙂🙃 and flags 🇫🇷🇯🇵, ZWJ 👩‍👩‍👧 family; skin 👍🏽.",
    "Whitespace:   three spaces,\ttab,\t\ttwo tabs, trailing   \n\n\n\nnewlines\r\nCRLF  ",
    "Digits 1234567890 3.14159 1,000,000 -42 0x1F 2024-05-06 12:30:45 ٣٤٥ ²³ ½",
    "Contractions: I'm, you're, it's, we've, they'll, he'd, DON'T, 'quoted', ’curly’",
    "Unicode: naïve café Ærøskøbing Straße İstanbul ǅ ﬁ ﬂ Ω≈ç√∫ µ ẞ",
    "CJK 東京都渋谷区 한국어 テキスト, Arabic العربية, Hebrew עברית, Thai ภาษาไทย, Devanagari हिन्दी",
    "Specials as text: <s> </s> <pad> <unk> <mask> [NLU] [NLG] [S2S] <extra_id_0> <extra_id_99>",
    "Zero width\u200bspace, NBSP\u00a0here, ideographic\u3000space, soft\u00adhyphen, bidi \u202eabc\u202c",
    'Punctuation!!! ??? ... --- ___ *** ((nested)) [[x]] {{y}} <<z>> @#$%^&* ~`|\\ /// ""',
    "   leading spaces, a lone \n newline, \u0085 NEL, \x0b VT, \x0c FF, \x1c FS",
    "Combining (not NFC): e\u0301 a\u0308 n\u0303 and Hangul \u1100\u1161\u11a8",
    "",
    " ",
    "x",
]


def _varied_texts(count: int = 300) -> list[str]:
    rng = random.Random(0)
    texts = list(generate_documents(documents=count, entities=60, seed=3))
    for i in range(0, count, 7):  # mix the odd strings into ordinary documents
        texts[i] = texts[i] + " " + rng.choice(ODD) + " " + rng.choice(ODD)
    return texts + ODD


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("enc")
    lines = [json.dumps({"text": t}) for t in _varied_texts(600) if len(t) >= 32]
    (root / "docs.jsonl").write_text("\n".join(lines) + "\n")
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="*.jsonl")], filters={"minhash": None})
    build_corpus(config, seed=0, out_dir=root / "corpus", root=root, workers=1)
    train_tokenizer(root / "corpus", TokenizerConfig(vocab_size=1200, sentinels=100), root / "tokenizer")
    return root / "tokenizer"


def _backend(tokenizer_dir: Path) -> Tokenizer:
    """The HF tokenizer as the stage uses it: a special token's text in a document stays text."""
    backend = load_tokenizer(tokenizer_dir)[0].backend_tokenizer
    backend.encode_special_tokens = True
    return backend


def _ids(encoder: encoders.Encoder, texts: list[str]) -> list[list[int]]:
    flat, lengths = encoder(texts)
    return [part.tolist() for part in np.split(flat, np.cumsum(lengths)[:-1])]


def test_tiktoken_gives_the_same_ids_as_tokenizers(tokenizer_dir: Path) -> None:
    backend = _backend(tokenizer_dir)
    texts = _varied_texts()
    assert any(not unicodedata.is_normalized("NFC", t) for t in texts)  # NFC is exercised too
    encoding, apply_nfc = tiktoken_encoding(json.loads(backend.to_str()))
    assert apply_nfc
    reference, fast = HFEncoder(backend), TiktokenEncoder(encoding, apply_nfc, threads=2)
    expected = [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    assert _ids(reference, texts) == expected
    assert _ids(fast, texts) == expected
    assert first_difference(reference, fast, texts) is None
    fast.close()


def test_special_token_text_is_never_a_special_id(tokenizer_dir: Path) -> None:
    tokenizer, specials = load_tokenizer(tokenizer_dir)
    text = "a </s> b <extra_id_3> [NLU] <pad>"
    encoding, apply_nfc = tiktoken_encoding(json.loads(tokenizer.backend_tokenizer.to_str()))
    for encoder in (HFEncoder(tokenizer.backend_tokenizer), TiktokenEncoder(encoding, apply_nfc, 1)):
        (ids,) = _ids(encoder, [text])
        assert not set(ids) & specials.all_ids
        assert tokenizer.decode(ids) == text


def test_stage_uses_tiktoken_and_writes_the_reference_ids(
    tokenizer_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = tokenizer_dir.parent / "corpus"
    with caplog.at_level(logging.INFO):
        encode_corpus(corpus, tokenizer_dir, tmp_path / "tokens")
    assert "encoding with tiktoken" in caplog.text
    _assert_stream_is_reference(corpus, tokenizer_dir, tmp_path / "tokens")


def test_stage_falls_back_when_tiktoken_differs(
    tokenizer_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_call = TiktokenEncoder.__call__

    def off_by_one(self: TiktokenEncoder, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids, lengths = real_call(self, texts)
        ids = ids.copy()
        ids[len(ids) // 2 :] += 1  # what a regex or merge-order mismatch would look like
        return ids, lengths

    monkeypatch.setattr(TiktokenEncoder, "__call__", off_by_one)
    corpus = tokenizer_dir.parent / "corpus"
    with caplog.at_level(logging.INFO):
        encode_corpus(corpus, tokenizer_dir, tmp_path / "tokens")
    assert "encoding with tokenizers, the slower path" in caplog.text
    assert "differs on the sample, document" in caplog.text
    _assert_stream_is_reference(corpus, tokenizer_dir, tmp_path / "tokens")


def _assert_stream_is_reference(corpus: Path, tokenizer_dir: Path, tokens: Path) -> None:
    import pyarrow.parquet as pq

    backend = _backend(tokenizer_dir)
    for split in ("train", "val"):
        texts = pq.read_table(corpus / split).column("text").to_pylist()
        stream = TokenStream.open(tokens, split)
        expected = [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
        assert [stream.document(i).tolist() for i in range(stream.num_documents)] == expected


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda s: s["pre_tokenizer"].update(add_prefix_space=True), "add_prefix_space"),
        (lambda s: s.update(normalizer={"type": "Lowercase"}), "normalizer"),
        (lambda s: s["model"].update(byte_fallback=True), "byte_fallback"),
        (
            lambda s: s["added_tokens"].append({**s["added_tokens"][0], "id": 5000, "special": False}),
            "not special",
        ),
        (lambda s: s["model"]["merges"].reverse(), "merge order"),
    ],
)
def test_unsupported_tokenizers_fall_back_with_the_reason(
    tokenizer_dir: Path, edit: object, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = json.loads(_backend(tokenizer_dir).to_str())
    edit(spec)  # type: ignore[operator]
    with pytest.raises(NotEquivalent, match=reason):
        tiktoken_encoding(spec)
    if reason in ("add_prefix_space", "normalizer"):  # still a loadable tokenizer: the stage falls back
        backend = Tokenizer.from_str(json.dumps(spec))
        with caplog.at_level(logging.INFO):
            chosen = choose_encoder(backend, ["some text"], threads=1)
        assert isinstance(chosen, HFEncoder) and reason in caplog.text


def test_split_then_byte_level_pre_tokenizer_is_supported(tokenizer_dir: Path) -> None:
    backend = _backend(tokenizer_dir)
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    encoding, apply_nfc = tiktoken_encoding(json.loads(backend.to_str()))
    texts = _varied_texts(100)
    assert first_difference(HFEncoder(backend), TiktokenEncoder(encoding, apply_nfc, 1), texts) is None
