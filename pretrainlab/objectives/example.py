"""What every objective produces: one :class:`Example` per raw token sequence.

An example is architecture-neutral. ``inputs`` are the conditioning tokens and ``targets`` the tokens the
model is scored on; :mod:`pretrainlab.models.layout` decides how a given architecture sees them (a
decoder reads ``inputs ⊕ targets``, an encoder-decoder puts ``inputs`` in the encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE = -100  # label value that carries no loss (PyTorch's cross_entropy default ignore_index)


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays with == is not a bool
class Example:
    """One training or scoring example.

    inputs: int64 1-D conditioning tokens (ND: the bidirectional prefix; ED: the encoder input; CD: context).
    targets: int64 1-D tokens the model predicts; the loss is taken only on these.
    aligned_labels: BERT-style MLM only: same length as ``inputs``, the original token at each corrupted
        position and ``IGNORE`` elsewhere (``targets`` is then empty).
    """

    inputs: np.ndarray
    targets: np.ndarray
    aligned_labels: np.ndarray | None = None


def rows_to_examples(
    inputs: np.ndarray, targets: np.ndarray, aligned_labels: np.ndarray | None = None
) -> list[Example]:
    """Split (B, n) arrays into B examples (rows are views; nothing is copied twice)."""
    inputs = np.ascontiguousarray(inputs, dtype=np.int64)
    targets = np.ascontiguousarray(targets, dtype=np.int64)
    if aligned_labels is None:
        return [Example(inputs[i], targets[i]) for i in range(len(inputs))]
    aligned_labels = np.ascontiguousarray(aligned_labels, dtype=np.int64)
    return [Example(inputs[i], targets[i], aligned_labels[i]) for i in range(len(inputs))]


def as_batch(tokens: np.ndarray) -> np.ndarray:
    """Validate the (B, raw_len) integer array every objective takes and return it as int64."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(
            f"tokens must be a 2-D integer array (batch, raw_len), got {tokens.dtype} {tokens.shape}"
        )
    return tokens.astype(np.int64, copy=False)
