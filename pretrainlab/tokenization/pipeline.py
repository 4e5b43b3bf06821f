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
    for split in SPLITS:
        shard_paths(Path(corpus_dir), split)
    if config.pretrained is None:
        check_vocab_size(config)
        train_tokenizer(Path(corpus_dir), config, Path(tokenizer_out))
    else:
        source = Path(config.pretrained).expanduser()
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
        with atomic_dir(Path(tokenizer_out)) as tmp:
            tokenizer.save_pretrained(str(tmp))  # re-saved, so only tokenizer data files are carried over
    return encode_corpus(Path(corpus_dir), Path(tokenizer_out), Path(tokens_out))
