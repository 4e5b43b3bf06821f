"""Train the project's byte-level BPE on the corpus's train split (HF ``tokenizers``).

The reserved specials (:func:`~pretrainlab.tokenization.specials.reserved_tokens`) come first, so
``<pad>=0 <s>=1 </s>=2 <unk>=3 <mask>=4 [NLU] [NLG] [S2S] <extra_id_0> ...`` whatever the vocab size;
then the 256 byte symbols; then merges. The result is a ``save_pretrained`` directory that
``transformers.AutoTokenizer.from_pretrained`` loads with no project code. Encoding adds no specials
on its own (no post-processor): the token stream appends ``</s>`` to each document explicitly.

Training is deterministic for a given corpus: the trainer breaks ties between equally frequent
pairs by pair content, and the corpus is read in shard order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from pretrainlab.atomic import atomic_dir
from pretrainlab.config.schema import TokenizerConfig
from pretrainlab.corpus.shards import iter_texts
from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.specials import BOS, EOS, MASK, MODE_TOKENS, PAD, UNK, reserved_tokens, sentinel

logger = logging.getLogger(__name__)

BYTE_SYMBOLS = 256


def check_vocab_size(config: TokenizerConfig) -> int:
    """The requested vocab size, or UserInputError if it cannot hold the specials, the bytes and a merge."""
    assert config.vocab_size is not None
    floor = len(reserved_tokens(config.sentinels)) + BYTE_SYMBOLS
    if config.vocab_size <= floor:
        raise UserInputError(
            f"tokenizer.vocab_size={config.vocab_size} is too small: it must exceed {floor} "
            f"({floor - BYTE_SYMBOLS} reserved specials with tokenizer.sentinels={config.sentinels}, "
            f"plus {BYTE_SYMBOLS} byte symbols)"
        )
    return config.vocab_size


def wrap_for_transformers(tokenizer: Tokenizer, num_sentinels: int) -> PreTrainedTokenizerFast:
    """A ``tokenizers.Tokenizer`` dressed with the special-token roles transformers needs."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        mask_token=MASK,
        additional_special_tokens=[*MODE_TOKENS.values()] + [sentinel(i) for i in range(num_sentinels)],
    )


def _batches(corpus_dir: Path) -> Iterator[list[str]]:
    for texts in iter_texts(corpus_dir, "train"):
        yield texts.to_pylist()


def train_tokenizer(corpus_dir: Path, config: TokenizerConfig, out_dir: Path) -> PreTrainedTokenizerFast:
    """Train on ``corpus_dir/train`` and save to ``out_dir`` (atomically); returns the tokenizer."""
    vocab_size = check_vocab_size(config)
    specials = reserved_tokens(config.sentinels)
    tokenizer = Tokenizer(models.BPE())
    # NFC matches the corpus cleaning, so prompts typed at evaluation time tokenize like the corpus.
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=config.min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_batches(Path(corpus_dir)), trainer=trainer)
    if tokenizer.get_vocab_size() < vocab_size:
        logger.warning(
            "tokenizer: the corpus supports only %d of the %d tokens asked for (tokenizer.vocab_size); "
            "min_frequency=%d stopped the merges",
            tokenizer.get_vocab_size(),
            vocab_size,
            config.min_frequency,
        )
    wrapped = wrap_for_transformers(tokenizer, config.sentinels)
    with atomic_dir(Path(out_dir)) as tmp:
        wrapped.save_pretrained(str(tmp))
    logger.info("tokenizer: %d tokens -> %s", len(wrapped), out_dir)
    return wrapped
