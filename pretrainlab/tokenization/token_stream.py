"""Read an encoded split: a flat memory-mapped token stream plus document offsets.

Layout of ``tokens_dir`` (written by :mod:`~pretrainlab.tokenization.encode`)::

    train.bin, val.bin            every document's ids followed by </s>, back to back (uint16/uint32)
    train.idx.npy, val.idx.npy    int64 start offset of each document in the .bin
    meta.json                     vocab_size, dtype, eos_id, tokens/documents/bytes per split,
                                  tokenizer_sha256

Document ``i`` spans ``tokens[doc_starts[i] : doc_starts[i + 1]]`` (its last token is ``</s>``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pretrainlab.errors import UserInputError

META_FILE = "meta.json"
DTYPES = ("uint16", "uint32")
META_KEYS = ("vocab_size", "dtype", "eos_id", "tokens", "documents", "bytes", "tokenizer_sha256")


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits in it, else uint32 (half the disk and page cache for small vocabs)."""
    return np.dtype(np.uint16 if vocab_size <= 65535 else np.uint32)


def bin_path(tokens_dir: Path, split: str) -> Path:
    return Path(tokens_dir) / f"{split}.bin"


def idx_path(tokens_dir: Path, split: str) -> Path:
    return Path(tokens_dir) / f"{split}.idx.npy"


def read_meta(tokens_dir: Path) -> dict[str, Any]:
    """``meta.json`` of a tokens directory, checked for the keys readers rely on."""
    path = Path(tokens_dir) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise UserInputError(f"{path}: missing (run the tokenize stage first)") from err
    except (OSError, ValueError) as err:
        raise UserInputError(f"{path}: not readable JSON ({err})") from err
    missing = [key for key in META_KEYS if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise UserInputError(f"{path}: missing keys {missing}")
    if meta["dtype"] not in DTYPES:
        raise UserInputError(f"{path}: dtype {meta['dtype']!r} is not one of {DTYPES}")
    return meta


@dataclass(frozen=True, eq=False)
class TokenStream:
    split: str
    tokens: np.ndarray  # read-only memmap, shape [total tokens]
    doc_starts: np.ndarray  # int64, shape [documents]
    meta: dict[str, Any]

    @classmethod
    def open(cls, tokens_dir: Path | str, split: str) -> TokenStream:
        """Map ``<split>.bin`` read-only and load its offsets; UserInputError naming the file on mismatch."""
        tokens_dir = Path(tokens_dir)
        meta = read_meta(tokens_dir)
        if split not in meta["tokens"] or split not in meta["documents"]:
            raise UserInputError(
                f"{tokens_dir / META_FILE}: no split {split!r} (have {sorted(meta['tokens'])})"
            )
        n_tokens, n_docs = int(meta["tokens"][split]), int(meta["documents"][split])
        dtype = np.dtype(meta["dtype"])

        path = bin_path(tokens_dir, split)
        if not path.is_file():
            raise UserInputError(f"{path}: missing")
        size = path.stat().st_size
        if size != n_tokens * dtype.itemsize:
            raise UserInputError(
                f"{path}: {size} bytes, but {META_FILE} says {n_tokens} {dtype} tokens "
                f"({n_tokens * dtype.itemsize} bytes); the directory is corrupt or mixed, re-run tokenize"
            )
        # mode="r": pages come from the OS cache, shared by every process that opens the same file.
        tokens = np.memmap(path, dtype=dtype, mode="r") if n_tokens else np.zeros(0, dtype=dtype)
        tokens.flags.writeable = False

        index = idx_path(tokens_dir, split)
        try:
            starts = np.load(index, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise UserInputError(f"{index}: not a readable .npy offsets file ({err})") from err
        if starts.dtype != np.int64 or starts.shape != (n_docs,):
            raise UserInputError(
                f"{index}: expected {n_docs} int64 offsets ({META_FILE}), found {starts.shape} {starts.dtype}"
            )
        if n_docs and (starts[0] != 0 or starts[-1] >= n_tokens or np.any(np.diff(starts) <= 0)):
            raise UserInputError(f"{index}: offsets are not increasing from 0 within the {n_tokens} tokens")
        return cls(split=split, tokens=tokens, doc_starts=starts, meta=meta)

    def __len__(self) -> int:
        """Number of tokens (documents and their </s> separators)."""
        return len(self.tokens)

    @property
    def num_documents(self) -> int:
        return len(self.doc_starts)

    def document(self, i: int) -> np.ndarray:
        """Ids of document ``i`` without its trailing ``</s>``."""
        end = self.doc_starts[i + 1] if i + 1 < len(self.doc_starts) else len(self.tokens)
        return self.tokens[self.doc_starts[i] : end - 1]
