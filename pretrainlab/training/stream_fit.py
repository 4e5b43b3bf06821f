"""A training cell's windows must fit its token streams: a stream shorter than one window is bad input
(``pretrain.seq_len`` too long for the corpus), refused with the key and the file before a model is built."""

from __future__ import annotations

from pathlib import Path

from pretrainlab.errors import UserInputError
from pretrainlab.tokenization.token_stream import TokenStream, bin_path


def require_windows(tokens_dir: Path, streams: list[TokenStream], window: int, seq_len: int) -> None:
    """Each of ``streams`` (read from ``tokens_dir``) holds at least one window of ``window`` tokens
    (the objective's raw length at ``seq_len``); else a :class:`UserInputError` naming both."""
    for stream in streams:
        if len(stream) < window:
            read = f"a window of {window} tokens" if window != seq_len else "one window"
            raise UserInputError(
                f"pretrain.seq_len: {seq_len} ({read}) is longer than the whole token stream "
                f"{bin_path(Path(tokens_dir), stream.split)} ({len(stream)} tokens); lower pretrain.seq_len "
                "or give the corpus more text"
            )
