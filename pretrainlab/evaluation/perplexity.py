"""Validation loss and bits per byte on the held-out token stream.

Choices made here:

* **Windows.** The val stream is cut into consecutive, non-overlapping windows of ``seq_len``
  tokens from its start, as many as fit in ``max_tokens`` (at least one; a stream shorter than a
  window is one short window). Windows ignore document boundaries, as pretraining windows do.
* **Decoders** (causal and non-causal) are scored as plain causal LMs: ``Example(inputs=w[:1],
  targets=w[1:])``, i.e. every token after the first of a window is predicted from the tokens before
  it (a one-token prefix is the same under a causal and a prefix mask). This is next-token loss
  whatever the objective the model was pretrained with, so span-corruption models score poorly
  here by construction; it is what the paper's validation loss compares.
* **Encoder-decoder**: the encoder reads the first half of the window, the decoder predicts the
  second half (the prefix-LM view of the same window). Only the second half is scored, so its loss
  is not the same quantity as a decoder's and should be compared among encoder-decoders.
* **Loss** = total negative log-likelihood (nats) / scored tokens.
* **Bits per byte** = total nats / ln 2 / UTF-8 bytes covered by the scored tokens. Token streams
  do not keep byte offsets, so the bytes are estimated as ``scored tokens × bytes/token`` of the
  split, from the token stream's ``meta.json`` (``bytes[split] / tokens[split]``; the token count
  includes each document's ``</s>``, which covers no text, so the ratio spreads text bytes over all
  predicted tokens, separators included, as the nats are).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from pretrainlab.models.architectures import architecture
from pretrainlab.models.layout import collate, forward_logits, token_log_probs
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens


@dataclass(frozen=True)
class Perplexity:
    loss: float  # mean nats per scored token
    bits_per_byte: float
    tokens: int  # scored tokens
    bytes: float  # estimated UTF-8 bytes they cover


def bytes_per_token(meta: Mapping, split: str = "val") -> float:
    """UTF-8 bytes per token of ``split`` from a token-stream ``meta.json`` mapping."""
    try:
        n_bytes, n_tokens = float(meta["bytes"][split]), float(meta["tokens"][split])
    except (KeyError, TypeError) as err:
        raise ValueError(f"token meta has no bytes/tokens count for split {split!r}") from err
    if n_tokens <= 0:
        raise ValueError(f"token meta reports {n_tokens} tokens for split {split!r}")
    return n_bytes / n_tokens


def windows(tokens: np.ndarray, seq_len: int, max_tokens: int) -> np.ndarray:
    """Consecutive windows ``[n, seq_len]`` (int64) from the start of ``tokens``, covering <= max_tokens."""
    if len(tokens) < 2:
        raise ValueError(f"a validation stream needs at least 2 tokens, got {len(tokens)}")
    if len(tokens) < seq_len:
        return np.asarray(tokens, dtype=np.int64)[None, :]
    n = max(1, min(len(tokens) // seq_len, max_tokens // seq_len))
    return np.asarray(tokens[: n * seq_len], dtype=np.int64).reshape(n, seq_len)


def _example(window: np.ndarray, arch: str) -> Example:
    split = len(window) // 2 if architecture(arch).is_encoder_decoder else 1
    return Example(inputs=window[:split], targets=window[split:])


def validation_perplexity(
    model: torch.nn.Module,
    arch: str,
    specials: SpecialTokens,
    tokens: np.ndarray,
    *,
    seq_len: int,
    max_tokens: int,
    bytes_per_token: float,
    max_batch_tokens: int = 16384,
    device: torch.device | str | None = None,
) -> Perplexity:
    """Next-token loss and bits per byte of ``model`` on ``tokens`` (see the module docstring)."""
    target_device = torch.device(device) if device is not None else next(model.parameters()).device
    rows = windows(tokens, seq_len, max_tokens)
    per_batch = max(1, max_batch_tokens // rows.shape[1])
    nats, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(rows), per_batch):
                examples = [_example(w, arch) for w in rows[start : start + per_batch]]
                input_len, target_len = len(examples[0].inputs), len(examples[0].targets)
                batch = collate(examples, arch, specials, input_len, target_len).to(target_device)
                logp = token_log_probs(forward_logits(model, arch, batch).float(), batch.labels)
                nats -= float(logp.double().sum())
                count += int((batch.labels != -100).sum())
    finally:
        model.train(was_training)
    covered = count * bytes_per_token
    return Perplexity(
        loss=nats / max(count, 1),
        bits_per_byte=nats / math.log(2) / covered if covered > 0 else float("nan"),
        tokens=count,
        bytes=covered,
    )
