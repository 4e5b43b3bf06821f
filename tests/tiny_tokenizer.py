"""A tiny byte-level BPE with pretrainlab's reserved specials, trained in memory for tests."""

from __future__ import annotations

from collections.abc import Iterable


def tiny_tokenizer(texts: Iterable[str], vocab_size: int = 600, sentinels: int = 4):
    """(transformers tokenizer, SpecialTokens) trained on ``texts`` — the layout the tokenize stage makes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from pretrainlab.tokenization.specials import SpecialTokens, reserved_tokens
    from pretrainlab.tokenization.train_bpe import wrap_for_transformers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=reserved_tokens(sentinels),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = wrap_for_transformers(bpe, sentinels)
    return tokenizer, SpecialTokens.from_vocab(tokenizer.get_vocab(), len(tokenizer))
