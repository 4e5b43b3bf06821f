"""The tokenize stage's work: get a tokenizer (train one, or copy ``tokenizer.pretrained``), then encode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pretrainlab.atomic import atomic_dir
from pretrainlab.config.schema import TokenizerConfig
from pretrainlab.corpus.shards import shard_paths
from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.encode import SPLITS, encode_corpus
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.train_bpe import check_vocab_size, train_tokenizer


def tokenize(
    config: TokenizerConfig, corpus_dir: Path, tokenizer_out: Path, tokens_out: Path, root: Path | None = None
) -> dict[str, Any]:
    """Write ``tokenizer_out`` (a ``save_pretrained`` dir) and ``tokens_out``; returns the tokens meta.

    Inputs are checked before anything is written: the corpus has shards for both splits, the vocab
    size can hold the specials, a pretrained directory loads and has enough sentinels. ``root``
    resolves a relative ``tokenizer.pretrained`` (cwd by default).
    """
    pretrained = None if config.pretrained is None else _load_pretrained(config, root)
    for split in SPLITS:
        shard_paths(Path(corpus_dir), split)
    if pretrained is None:
        check_vocab_size(config)
        train_tokenizer(Path(corpus_dir), config, Path(tokenizer_out))
    else:
        with atomic_dir(Path(tokenizer_out)) as tmp:
            pretrained.save_pretrained(str(tmp))  # re-saved, so only tokenizer data files are carried over
    return encode_corpus(Path(corpus_dir), Path(tokenizer_out), Path(tokens_out))


def _load_pretrained(config: TokenizerConfig, root: Path | None):
    """Load and check ``tokenizer.pretrained`` (nothing is written)."""
    source = Path(str(config.pretrained)).expanduser()
    source = source if source.is_absolute() else (Path.cwd() if root is None else Path(root)) / source
    try:
        tokenizer, specials = load_tokenizer(source)
    except UserInputError as err:
        raise UserInputError(f"tokenizer.pretrained: {err}") from err
    if len(specials.sentinels) < config.sentinels:
        raise UserInputError(
            f"tokenizer.pretrained: {source} has {len(specials.sentinels)} sentinels <extra_id_N>, "
            f"but tokenizer.sentinels asks for {config.sentinels}"
        )
    return tokenizer
