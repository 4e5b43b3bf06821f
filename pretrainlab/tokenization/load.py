"""Load a tokenizer directory (trained here or ``tokenizer.pretrained``) and find its reserved specials."""

from __future__ import annotations

import hashlib
from pathlib import Path

from transformers import PreTrainedTokenizerFast

from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.specials import SpecialTokens, reserved_tokens

TOKENIZER_FILE = "tokenizer.json"


def load_tokenizer(path: Path | str) -> tuple[PreTrainedTokenizerFast, SpecialTokens]:
    """The fast tokenizer in ``path`` and the ids of its reserved specials.

    Raises UserInputError naming the directory when it is missing, has no ``tokenizer.json``, cannot be
    read, lacks a reserved special (``<pad> <s> </s> <unk> <mask> [NLU] [NLG] [S2S]``), or has a vocab
    no larger than its specials.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: tokenizer directory does not exist")
    if not (folder / TOKENIZER_FILE).is_file():
        raise UserInputError(
            f"{folder}: no {TOKENIZER_FILE} (a fast tokenizer is required; save one with "
            "PreTrainedTokenizerFast.save_pretrained)"
        )
    try:
        # Never AutoTokenizer with remote code: the class is fixed, only data files are read.
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    except Exception as err:  # transformers raises many types for a corrupt file
        raise UserInputError(f"{folder}: cannot read the tokenizer ({type(err).__name__}: {err})") from err

    vocab = tokenizer.get_vocab()
    required = reserved_tokens(0)
    missing = [token for token in required if token not in vocab]
    if missing:
        raise UserInputError(
            f"{folder}: tokenizer lacks reserved special tokens {missing} (every tokenizer needs "
            f"{required} and sentinels <extra_id_0>...; add them with tokenizer.add_special_tokens)"
        )
    vocab_size = max(len(tokenizer), max(vocab.values()) + 1)
    specials = SpecialTokens.from_vocab(vocab, vocab_size)
    if vocab_size <= len(specials.all_ids):
        raise UserInputError(
            f"{folder}: vocab of {vocab_size} tokens is no larger than its {len(specials.all_ids)} reserved "
            "specials: there are no tokens left for text"
        )
    return tokenizer, specials


def tokenizer_fingerprint(path: Path | str) -> str:
    """sha256 of ``tokenizer.json``: equal fingerprints mean identical tokenization."""
    file = Path(path) / TOKENIZER_FILE
    if not file.is_file():
        raise UserInputError(f"{Path(path)}: no {TOKENIZER_FILE}")
    return hashlib.sha256(file.read_bytes()).hexdigest()
