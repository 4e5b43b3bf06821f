"""Shared-prompt scoring: every choice of an item in one row, the prompt encoded once.

Rank classification asks for ``log p(choice | prompt)`` of several choices that share a prompt. Scoring
each (prompt, choice) pair as its own sequence runs the prompt through the model once per choice; here
the examples that share their ``inputs`` become one *row* — the inputs once (the trunk), then every
distinct ``targets`` (a branch) — under a tree mask, so one forward pass scores them all.

Worked example: inputs ``[a b c]`` with choices ``[x y]`` and ``[z]`` (``T`` = trunk, ``1``/``2`` = branches).

causal / non-causal decoder, one row ``[a b c x y z]``::

    branch     [T T T 1 1 2]
    positions  [0 1 2 3 4 3]        # each branch continues the trunk's positions, as if it were alone
    a query sees a key iff   same row  and  (key <= query or key in a bidirectional trunk)
                             and (key in the trunk or key in the query's own branch)
    scored     x at c, y at x (branch 1); z at c (branch 2)

The trunk never sees a branch, so its states — the non-causal decoder's bidirectional prefix included
— are exactly those of each one-choice sequence, and each branch token sees exactly the keys it would
see there, at the same positions: the numbers are the per-choice ones up to float rounding. This is a
key/value cache of the prompt reused by every choice, done in one pass with the model's plain
``(input_ids, 4-D additive attention_mask, position_ids)`` interface, the same one packed training rows
use (:func:`pretrainlab.models.masks.packed_attention_mask`), so it runs under eager and SDPA alike and
needs no per-choice copy of a ``Cache`` object (an API transformers 5.x is renaming, ``past_key_values``
→ ``cache``).

encoder-decoder: the encoder reads ``[a b c]`` once; the decoder row holds each branch's
``[bos, targets[:-1]]``, causal within a branch, blind across branches, every branch cross-attending to
the same encoder row. Leading tokens that every branch of a row shares join the trunk and are read
once: here the decoder's ``bos`` (row ``[bos x]``, positions ``[0 1]``: x and z at bos, y at x; z's
branch is empty), in a span-corruption format the sentinel that starts every target.

BERT-style encoder (``aligned_labels``): examples with identical inputs (choices of the same token
count share ``prompt <mask>×k``) are one bidirectional row; each choice reads its labels from it. Its
mask is ``[B, 1, 1, T]`` (every query sees every real key), not a tree.

Examples share a row only when their inputs are identical: when a prompt is cut to fit ``seq_len``,
a longer choice leaves less of it (:class:`~.prompt_layout.PromptFormat`), so such an item's
choices of different lengths get rows of their own — sharing there would change the numbers.

The forward pass returns the final hidden states only at the scored positions of each row, and only
those go through the LM head. The study's models run through :mod:`.scoring_stack`, whose last layer
computes queries and MLP at those positions alone; other models run their own forward (the tree mask
is all they need). Rows are sorted by length and cut into batches of at most
``max_batch_tokens`` padded tokens; a row with too many branches for one batch is split between rows.
On CPU batches hold at most :data:`CPU_BATCH_TOKENS` per torch thread: each core's share of a tiny
model's activations then stays in its cache, and neighbours in the length order pad each other by ~5%
instead of ~14% (the default study's tiny model and items, one thread: 2048-token batches take 20-30%
less time than 8192). The numbers do not depend on the batching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import PreTrainedModel

from pretrainlab.evaluation.scoring_stack import ScoringStack, scoring_stack
from pretrainlab.models.architectures import architecture
from pretrainlab.models.layout import token_log_probs
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens

CPU_BATCH_TOKENS = 2048  # on CPU, at most this many padded tokens per batch and thread (module docstring)


@dataclass
class _Group:
    """Examples that share ``inputs``: their distinct targets and who asked for which."""

    inputs: np.ndarray
    branches: list[np.ndarray] = field(default_factory=list)
    members: list[tuple[int, int, int]] = field(default_factory=list)  # (example, branch, skip)
    branch_of: dict[bytes, int] = field(default_factory=dict)  # a target's bytes -> its branch index


@dataclass(frozen=True)
class _Row:
    """One row of a batch and the (position, label, example) triples scored in it."""

    tokens: np.ndarray  # decoders and the encoder: the whole sequence; ED: the decoder's
    positions: np.ndarray
    branch: np.ndarray  # 0 = trunk, i = the i-th branch
    bidirectional: np.ndarray  # bool: a key every position of the row may see (an ND/encoder prefix)
    encoder_tokens: np.ndarray | None  # ED only
    scored: np.ndarray  # [n, 3] int64: position in the row, label, example index

    @property
    def length(self) -> tuple[int, int]:
        return (0 if self.encoder_tokens is None else len(self.encoder_tokens), len(self.tokens))


def group_by_inputs(
    examples: Sequence[Example], skip: Sequence[int], arch: str
) -> tuple[list[_Group], list[np.ndarray | None]]:
    """Examples grouped by identical inputs (identical targets within a group are scored once).

    The BERT-style encoder groups by its whole sequence and has no branches; its members point at
    their own ``aligned_labels`` (the second return value, by example).
    """
    spec = architecture(arch)
    groups: dict[bytes, _Group] = {}
    labels: list[np.ndarray | None] = []
    for index, (example, n_skip) in enumerate(zip(examples, skip, strict=True)):
        inputs = np.asarray(example.inputs, dtype=np.int64)
        targets = np.asarray(example.targets, dtype=np.int64)
        if spec.aligned_labels:
            if example.aligned_labels is None:
                raise ValueError(
                    f"the {arch} architecture needs examples with aligned_labels (the mlm objective)"
                )
            inputs = np.concatenate([inputs, targets])
            labels.append(np.asarray(example.aligned_labels, dtype=np.int64))
        elif example.aligned_labels is not None:
            raise ValueError(
                f"{arch} predicts next tokens; examples with aligned_labels (mlm) need the encoder"
            )
        else:
            labels.append(None)
            if len(inputs) == 0 and spec.is_decoder and len(targets) > int(n_skip):
                raise ValueError("a decoder needs at least one input token to score the first target token")
        group = groups.setdefault(inputs.tobytes(), _Group(inputs))
        if spec.aligned_labels:
            group.members.append((index, -1, int(n_skip)))
            continue
        b = group.branch_of.setdefault(targets.tobytes(), len(group.branches))
        if b == len(group.branches):
            group.branches.append(targets)
        group.members.append((index, b, int(n_skip)))
    return list(groups.values()), labels


def _chunks(group: _Group, trunk: int, max_tokens: int, start: int) -> list[list[int]]:
    """Branch indices per row: as many branches as fit in ``max_tokens`` with the trunk (at least one);
    each branch costs its targets plus ``start`` (the encoder-decoder's start token)."""
    rows: list[list[int]] = [[]]
    used = trunk
    for b, branch in enumerate(group.branches):
        cost = len(branch) + start
        if rows[-1] and used + cost > max_tokens:
            rows.append([])
            used = trunk
        rows[-1].append(b)
        used += cost
    return rows


def layout_rows(
    group: _Group, arch: str, specials: SpecialTokens, labels: Sequence[np.ndarray | None], max_tokens: int
) -> list[_Row]:
    """The rows of one group (one unless its branches do not fit in ``max_tokens``)."""
    trunk = group.inputs
    spec = architecture(arch)
    if spec.aligned_labels:
        scored = []
        for example, _, _ in group.members:
            aligned = labels[example]
            assert aligned is not None
            where = np.flatnonzero(aligned != IGNORE)
            part = np.empty((len(where), 3), np.int64)
            part[:, 0], part[:, 1], part[:, 2] = where, aligned[where], example
            scored.append(part)
        n = len(trunk)
        return [_Row(trunk, np.arange(n), np.zeros(n, np.int64), np.ones(n, bool), None, _stack(scored))]
    # Python lists throughout: a row is tens of tokens, where a numpy call costs more than the work
    encoder_decoder = spec.is_encoder_decoder
    p = 0 if encoder_decoder else len(trunk)  # the inputs' length in the row (ED: in the encoder)
    head = trunk[:p].tolist()
    targets = [branch.tolist() for branch in group.branches]
    rows = []
    for chunk in _chunks(group, len(trunk), max_tokens, int(encoder_decoder)):
        live = [b for b in chunk if targets[b]]  # an empty target scores 0: nothing to run
        if not live:
            continue
        # the sequence each branch continues the trunk with (ED: the decoder's [bos, targets[:-1]])
        seqs = {b: [specials.bos, *targets[b][:-1]] if encoder_decoder else targets[b] for b in live}
        shared = _common_prefix([seqs[b] for b in live])  # leading tokens every branch has: read once
        tokens = head + seqs[live[0]][:shared]
        n_stem = len(tokens)
        positions, branch_ids = list(range(n_stem)), [0] * n_stem
        starts: dict[int, int] = {}
        for i, b in enumerate(live, 1):
            rest = seqs[b][shared:]
            starts[b] = len(tokens)
            tokens += rest
            positions += range(n_stem, n_stem + len(rest))
            branch_ids += [i] * len(rest)
        scored = []
        for example, b, skip in group.members:
            if b not in starts:
                continue
            target, offset = targets[b], starts[b] - n_stem
            for j in range(skip, len(target)):
                # the index in the branch's own sequence of the token that predicts target j: the
                # decoder's token before it (inputs + targets, the inputs' last for j = 0); the ED
                # decoder's own input at j ([bos, targets[:-1]] is targets shifted right). The stem
                # holds the first n_stem.
                m = j if encoder_decoder else p + j - 1
                scored.append((m if m < n_stem else m + offset, target[j], example))
        bidirectional = np.zeros(len(tokens), bool)
        if spec.bidirectional_prefix:  # the inputs (none on the ED decoder side: p = 0)
            bidirectional[:p] = True
        rows.append(
            _Row(
                np.array(tokens, np.int64),
                np.array(positions, np.int64),
                np.array(branch_ids, np.int64),
                bidirectional,
                trunk if encoder_decoder else None,
                np.array(scored, np.int64).reshape(-1, 3),
            )
        )
    return rows


def _common_prefix(seqs: Sequence[list[int]]) -> int:
    """How many leading tokens all of ``seqs`` share (0 for a single sequence: nothing to share)."""
    if len(seqs) < 2:
        return 0
    n = 0
    for column in zip(*seqs, strict=False):
        if any(token != column[0] for token in column):
            break
        n += 1
    return n


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 3), np.int64)


def batches(rows: Sequence[_Row], max_batch_tokens: int) -> list[list[int]]:
    """Row indices sorted by length, cut into batches of at most ``max_batch_tokens`` padded tokens."""
    out: list[list[int]] = []
    current: list[int] = []
    longest = (0, 0)
    for i in sorted(range(len(rows)), key=lambda i: rows[i].length):
        grown = (max(longest[0], rows[i].length[0]), max(longest[1], rows[i].length[1]))
        if current and (len(current) + 1) * sum(grown) > max_batch_tokens:
            out.append(current)
            current, grown = [], rows[i].length
        current.append(i)
        longest = grown
    if current:
        out.append(current)
    return out


def _pad(rows: Sequence[np.ndarray], value: int | bool, dtype: type) -> torch.Tensor:
    out = np.full((len(rows), max(len(r) for r in rows)), value, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


def tree_attention_mask(
    real: torch.Tensor, branch: torch.Tensor, bidirectional: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """[B, 1, T, T] additive mask: q sees k iff both are real (or both pads), ``k <= q`` or
    ``bidirectional[k]``, and k is in the trunk (branch 0) or in q's branch. Pads see earlier pads, so
    no query row is empty."""
    T = real.shape[1]
    positions = torch.arange(T, device=real.device)
    causal = (positions[None, :] <= positions[:, None])[None]
    same_kind = real[:, :, None] == real[:, None, :]
    lineage = (branch[:, None, :] == 0) | (branch[:, None, :] == branch[:, :, None])
    allowed = same_kind & (causal | bidirectional[:, None, :]) & lineage
    zero = torch.zeros((), dtype=dtype, device=real.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)[:, None]


def _queries(rows: Sequence[_Row]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct scored positions of each row ``[B, S]`` (right-padded with position 0), and for each
    scored triple of the batch (rows in order) its slot in its row."""
    row = np.repeat(np.arange(len(rows)), [len(r.scored) for r in rows])
    position = np.concatenate([r.scored[:, 0] for r in rows])
    width = int(position.max()) + 1
    keys, index = np.unique(row * width + position, return_inverse=True)  # sorted: by row, then position
    key_row = keys // width
    slot = np.arange(len(keys)) - np.searchsorted(key_row, key_row)  # rank among its row's keys
    queries = np.zeros((len(rows), int(slot.max()) + 1), dtype=np.int64)
    queries[key_row, slot] = keys % width
    return queries, slot[index]


def _hidden(
    model: PreTrainedModel,
    stack: ScoringStack | None,
    rows: Sequence[_Row],
    queries: torch.Tensor,
    pad: int,
    device: torch.device,
) -> torch.Tensor:
    """The last hidden states ``[B, S, d]`` of one batch of rows at ``queries`` (decoder side for ED)."""
    dtype = next(model.parameters()).dtype
    tokens = _pad([r.tokens for r in rows], pad, np.int64).to(device)
    real = _pad([np.ones(len(r.tokens), bool) for r in rows], False, bool).to(device)
    if stack is not None and all(r.bidirectional.all() for r in rows):
        # the BERT-style encoder's rows: every query sees every real key ([B, 1, 1, T], cheaper to
        # build and to read); a pad query seeing real keys changes nothing a real position reads
        mask = torch.where(real, 0.0, torch.finfo(dtype).min).to(dtype)[:, None, None]
    else:
        mask = tree_attention_mask(
            real,
            _pad([r.branch for r in rows], 0, np.int64).to(device),
            _pad([r.bidirectional for r in rows], False, bool).to(device),
            dtype,
        )
    positions = _pad([r.positions for r in rows], 0, np.int64).to(device)
    encoder = [r.encoder_tokens for r in rows if r.encoder_tokens is not None]
    encoder_tokens = _pad(encoder, pad, np.int64).to(device) if encoder else None
    encoder_real = _pad([np.ones(len(e), bool) for e in encoder], False, bool).to(device) if encoder else None
    if stack is not None:
        return stack.hidden(tokens, positions, mask, queries, encoder_tokens, encoder_real)
    if encoder_real is None:
        out = model.base_model(input_ids=tokens, attention_mask=mask, position_ids=positions, use_cache=False)
    else:
        out = model.base_model(
            input_ids=encoder_tokens,
            attention_mask=encoder_real.long(),
            decoder_input_ids=tokens,
            decoder_attention_mask=mask,
            decoder_position_ids=positions,
            use_cache=False,
        )
    return out.last_hidden_state[torch.arange(len(rows), device=device)[:, None], queries]


def lm_head(model: PreTrainedModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """Hidden states → logits exactly as the model's own forward computes them (soft-capping included)."""
    head = model.get_output_embeddings()
    cap = model.get_decoder().config.final_logit_softcapping
    if cap is None:
        return head
    return lambda hidden: torch.tanh(head(hidden) / cap) * cap


def score_shared_prompts(
    model: PreTrainedModel,
    arch: str,
    specials: SpecialTokens,
    examples: Sequence[Example],
    skip: Sequence[int],
    *,
    max_batch_tokens: int,
    device: torch.device,
    fast: bool = True,
) -> np.ndarray:
    """Summed log-prob of ``targets[skip:]`` per example (``aligned_labels`` for the encoder), float64.

    ``fast``: run the study's models through :mod:`.scoring_stack` (``False``: the model's own forward).
    The caller puts the model in eval mode and under ``torch.inference_mode``.
    """
    if device.type == "cpu":  # small batches stay in cache and pad less: faster on CPU (the module docstring)
        max_batch_tokens = min(max_batch_tokens, CPU_BATCH_TOKENS * torch.get_num_threads())
    groups, labels = group_by_inputs(examples, skip, arch)
    rows = [row for g in groups for row in layout_rows(g, arch, specials, labels, max_batch_tokens)]
    head = lm_head(model)
    stack = scoring_stack(model) if fast else None
    out = torch.zeros(len(examples), dtype=torch.float64)
    for idx in batches(rows, max_batch_tokens):
        chunk = [rows[i] for i in idx]
        if not sum(len(r.scored) for r in chunk):
            continue
        chunk = [r for r in chunk if len(r.scored)]
        queries, slots = _queries(chunk)
        which = np.repeat(np.arange(len(chunk)), [len(r.scored) for r in chunk])
        flat = torch.from_numpy(np.concatenate([r.scored for r in chunk])).to(device)
        hidden = _hidden(model, stack, chunk, torch.from_numpy(queries).to(device), specials.pad, device)
        hidden = hidden[torch.from_numpy(which).to(device), torch.from_numpy(slots).to(device)]
        picked = token_log_probs(head(hidden)[None], flat[None, :, 1])[0]
        out.index_add_(0, flat[:, 2].cpu(), picked.double().cpu())
    return out.numpy()
