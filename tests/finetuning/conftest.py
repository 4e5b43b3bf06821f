"""A tiny synthworld and a BPE trained on its corpus, shared by the finetuning tests."""

from __future__ import annotations

import pytest

WORLD = {"entities": 80, "documents": 400, "seed": 0}


@pytest.fixture(scope="session")
def world() -> dict[str, int]:
    return dict(WORLD)


@pytest.fixture(scope="session")
def tokenizer_and_specials():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from pretrainlab.corpus.synthworld import generate_documents
    from pretrainlab.tokenization.specials import SpecialTokens, reserved_tokens
    from pretrainlab.tokenization.train_bpe import wrap_for_transformers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=reserved_tokens(4),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(generate_documents(**WORLD), trainer=trainer)
    tokenizer = wrap_for_transformers(bpe, 4)
    return tokenizer, SpecialTokens.from_vocab(tokenizer.get_vocab(), len(tokenizer))
