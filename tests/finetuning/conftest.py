"""A tiny synthworld and a BPE trained on its corpus, shared by the finetuning tests."""

from __future__ import annotations

import pytest

WORLD = {"entities": 80, "documents": 400, "seed": 0}


@pytest.fixture(scope="session")
def world() -> dict[str, int]:
    return dict(WORLD)


@pytest.fixture(scope="session")
def tokenizer_and_specials():
    from pretrainlab.synthworld import generate_documents
    from tests.tiny_tokenizer import tiny_tokenizer

    return tiny_tokenizer(generate_documents(**WORLD))
