"""Zero-shot rank classification: pick the answer choice the model finds most likely given the prompt.

Choices made here (each changes the numbers, so each is written down):

* **Score.** ``log p(choice | prompt)`` summed over the choice's tokens (``accuracy``), and the same
  divided by the number of choice tokens (``accuracy_norm``) or by the choice's UTF-8 bytes
  (``accuracy_byte_norm``, lm-evaluation-harness's ``acc_norm``). Ties go to the lowest choice index.
* **Tokenisation.** Prompt and choice are tokenised separately, without special tokens, and the ids
  concatenated (choice strings begin with a space, so the join is where a word boundary is). No EOS
  is appended to the choice: we score the choice's text, not that the text ends there. No BOS is
  prepended to the prompt: pretraining documents carry none (the stream is ``doc </s> doc </s>``).
* **Layout per architecture** (what :func:`pretrainlab.models.layout.collate` builds from
  ``Example(inputs=prompt, targets=choice)``): causal decoder — prompt then choice, one causal
  sequence; non-causal decoder — the prompt is the bidirectional prefix, the choice is causal after
  it; encoder-decoder — the prompt goes to the encoder, the choice to the decoder.
* **Span-corruption models that were not adapted or finetuned** (objective ``span_corruption``,
  the paper's "non-adapted MLM" models) have only ever seen sentinel-shaped examples, so the choice
  is posed as the filler of a final masked span, exactly as :mod:`pretrainlab.objectives.span_corruption`
  lays out a sequence whose last span is noise: inputs ``prompt <extra_id_0> </s>``, targets
  ``<extra_id_0> choice``. Only the choice tokens are scored: the log-prob of the leading
  ``<extra_id_0>`` target depends only on the inputs (it precedes every choice token), so it is
  identical across the choices of an item and adding it would not change the summed ranking, but it
  would skew the length-normalised scores. No ``</s>`` closes the choice (see *Tokenisation*).
* **UL2 models that were not adapted or finetuned** are scored in UL2's S-denoiser (prefix-LM)
  format, which is what rank classification asks ("continue this prompt"): inputs
  ``[S2S] prompt </s>``, targets ``choice`` — the mode token first and ``</s>`` closing the inputs, as
  :mod:`pretrainlab.objectives.ul2` (after UL2's reference code) lays out its S-denoiser. (The R/X
  denoisers' ``[NLU]``/``[NLG]`` span format would need a sentinel and fits prompts less directly.)
* **BERT-style encoders** (objective ``mlm`` on the ``encoder`` architecture) cannot continue a
  prompt, so each choice is scored as the filler of masked slots: inputs ``prompt <mask>×k`` (k = the
  choice's token count), and the score is the sum of log p(choice token | all of the inputs) at the
  masked positions, predicted in one pass. The slots reveal the choice's length, which is why the
  length-normalised accuracy is the one to read for these models.
* **Too long.** Prompts are truncated from the left (the question is usually at the end) so that
  the model sees at most ``seq_len`` tokens: decoders ``len(inputs) + len(targets) <= seq_len``; the
  encoder-decoder bounds the encoder and the decoder separately. Mode tokens, sentinels and EOS are
  kept; a choice longer than the room left is cut from the right (at least one prompt token stays).
* **Batching.** All choices of all items are scored together, under ``torch.inference_mode``: the
  choices that share a prompt are one row, the prompt read once (:mod:`.batched_scoring`), the last
  layer computed only where a choice token is scored (:mod:`.scoring_stack`), rows sorted by length
  and cut into batches of at most ``max_batch_tokens`` padded tokens. :func:`reference_scorer` scores
  each (prompt, choice) as its own sequence; the two agree up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from pretrainlab.evaluation.batched_scoring import score_shared_prompts
from pretrainlab.evaluation.prompt_layout import PromptFormat
from pretrainlab.models.layout import collate, forward_logits, token_log_probs
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens

# A scorer takes examples and, per example, how many leading target tokens not to score; it returns
# the summed log-prob of the remaining target tokens, one float per example.
Scorer = Callable[[Sequence[Example], Sequence[int]], np.ndarray]


@dataclass(frozen=True, eq=False)
class EncodedItem:
    """A task item as token ids: the prompt, each choice, the answer index and each choice's bytes."""

    prompt: np.ndarray
    choices: tuple[np.ndarray, ...]
    answer: int
    choice_bytes: tuple[int, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer {self.answer} is not one of {len(self.choices)} choices")
        if any(len(choice) == 0 for choice in self.choices):
            raise ValueError("every choice needs at least one token")


def scored_tokens(example: Example, skipped: int) -> int:
    """How many tokens of ``example`` carry the choice's score."""
    if example.aligned_labels is not None:
        return int((example.aligned_labels != IGNORE).sum())
    return len(example.targets) - skipped


@dataclass(frozen=True, eq=False)  # numpy fields: == is not a bool
class RankResult:
    """Per-item outcomes of rank classification (booleans, aligned with the items)."""

    correct: np.ndarray  # by summed log-likelihood
    correct_norm: np.ndarray  # by log-likelihood per choice token
    correct_byte_norm: np.ndarray  # by log-likelihood per choice byte
    predictions: np.ndarray  # chosen index by summed log-likelihood
    # Per item, one value per choice (what the per-item results file keeps to recompute any variant):
    log_likelihoods: tuple[np.ndarray, ...] = ()  # summed log p(choice | prompt)
    choice_tokens: tuple[np.ndarray, ...] = ()  # tokens scored per choice

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    @property
    def accuracy_norm(self) -> float:
        return float(self.correct_norm.mean())

    @property
    def accuracy_byte_norm(self) -> float:
        return float(self.correct_byte_norm.mean())


def encode_items(items: Sequence, tokenizer) -> list[EncodedItem]:
    """Tokenise synthworld ``TaskItem``-like objects (``prompt``, ``choices``, ``answer``)."""
    prompts = [item.prompt for item in items]
    choices = [choice for item in items for choice in item.choices]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"] if prompts else []
    choice_ids = tokenizer(choices, add_special_tokens=False)["input_ids"] if choices else []
    encoded, k = [], 0
    for item, ids in zip(items, prompt_ids, strict=True):
        n = len(item.choices)
        encoded.append(
            EncodedItem(
                prompt=np.asarray(ids, dtype=np.int64),
                choices=tuple(np.asarray(c, dtype=np.int64) for c in choice_ids[k : k + n]),
                answer=int(item.answer),
                choice_bytes=tuple(len(c.encode("utf-8")) for c in item.choices),
            )
        )
        k += n
    return encoded


def _batches(examples: Sequence[Example], max_batch_tokens: int) -> list[list[int]]:
    """Indices of ``examples`` grouped by length, each group at most ``max_batch_tokens`` padded."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].inputs), len(examples[i].targets)))
    batches: list[list[int]] = []
    current: list[int] = []
    max_in = max_out = 0
    for i in order:
        new_in = max(max_in, len(examples[i].inputs))
        new_out = max(max_out, len(examples[i].targets))
        if current and (len(current) + 1) * (new_in + new_out) > max_batch_tokens:
            batches.append(current)
            current, new_in, new_out = [], len(examples[i].inputs), len(examples[i].targets)
        current.append(i)
        max_in, max_out = new_in, new_out
    if current:
        batches.append(current)
    return batches


@contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode under ``torch.inference_mode``; the model's train/eval mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def model_scorer(
    model: torch.nn.Module,
    arch: str,
    specials: SpecialTokens,
    *,
    max_batch_tokens: int = 8192,
    device: torch.device | str | None = None,
) -> Scorer:
    """A :data:`Scorer` backed by ``model``: the examples that share their inputs (an item's choices) are
    scored in one row, the prompt read once (:func:`.batched_scoring.score_shared_prompts`)."""
    target_device = torch.device(device) if device is not None else next(model.parameters()).device

    def score(examples: Sequence[Example], skip: Sequence[int]) -> np.ndarray:
        with _evaluating(model):
            return score_shared_prompts(
                model,  # type: ignore[arg-type]
                arch,
                specials,
                examples,
                skip,
                max_batch_tokens=max_batch_tokens,
                device=target_device,
            )

    return score


def reference_scorer(
    model: torch.nn.Module,
    arch: str,
    specials: SpecialTokens,
    *,
    max_batch_tokens: int = 8192,
    device: torch.device | str | None = None,
) -> Scorer:
    """The reference :data:`Scorer`: every example its own padded sequence (``collate`` +
    ``forward_logits`` + ``token_log_probs``), the prompt read once per choice. :func:`model_scorer`
    must equal it; tests and ``benchmarks/eval_throughput.py`` compare the two."""
    target_device = torch.device(device) if device is not None else next(model.parameters()).device

    def score(examples: Sequence[Example], skip: Sequence[int]) -> np.ndarray:
        out = np.zeros(len(examples), dtype=np.float64)
        with _evaluating(model):
            for idx in _batches(examples, max_batch_tokens):
                chunk = [examples[i] for i in idx]
                input_len = max(len(e.inputs) for e in chunk)
                target_len = max(len(e.targets) for e in chunk)
                batch = collate(chunk, arch, specials, input_len, target_len).to(target_device)
                logits = forward_logits(model, arch, batch)
                valid = batch.labels != IGNORE
                rank = torch.cumsum(valid.long(), dim=1)  # 1 for the first target token, ...
                skip_t = torch.as_tensor([skip[i] for i in idx], device=rank.device).unsqueeze(1)
                kept = valid & (rank > skip_t)
                # Softmax only where a choice token is scored (prompt positions are most of a batch).
                picked = token_log_probs(logits[kept].unsqueeze(0), batch.labels[kept].unsqueeze(0))[0]
                rows = kept.nonzero()[:, 0]
                sums = torch.zeros(len(idx), dtype=torch.float64, device=picked.device)
                out[idx] = sums.index_add_(0, rows, picked.double()).cpu().numpy()
        return out

    return score


def rank_classify(
    items: Sequence[EncodedItem], scorer: Scorer, fmt: PromptFormat, *, arch: str, seq_len: int
) -> RankResult:
    """Score every choice of every item with ``scorer`` (one call) and rank them per item."""
    examples: list[Example] = []
    lengths: list[int] = []
    for item in items:
        for choice in item.choices:
            example = fmt.example(item.prompt, choice, arch=arch, seq_len=seq_len)
            examples.append(example)
            lengths.append(scored_tokens(example, fmt.skipped_targets))
    scores = scorer(examples, [fmt.skipped_targets] * len(examples)) if examples else np.zeros(0)
    tokens = np.asarray(lengths, dtype=np.float64)
    correct, correct_norm, correct_byte, predictions = [], [], [], []
    start = 0
    for item in items:
        stop = start + len(item.choices)
        s, t, b = scores[start:stop], tokens[start:stop], np.asarray(item.choice_bytes, dtype=np.float64)
        predictions.append(int(np.argmax(s)))
        correct.append(predictions[-1] == item.answer)
        correct_norm.append(int(np.argmax(s / np.maximum(t, 1))) == item.answer)
        correct_byte.append(int(np.argmax(s / np.maximum(b, 1))) == item.answer)
        start = stop
    ends = np.cumsum([len(item.choices) for item in items], dtype=np.int64)
    spans = list(zip(ends - [len(item.choices) for item in items], ends, strict=True))
    return RankResult(
        correct=np.asarray(correct, dtype=bool),
        correct_norm=np.asarray(correct_norm, dtype=bool),
        correct_byte_norm=np.asarray(correct_byte, dtype=bool),
        predictions=np.asarray(predictions, dtype=np.int64),
        log_likelihoods=tuple(np.asarray(scores[a:b], dtype=np.float64) for a, b in spans),
        choice_tokens=tuple(tokens[a:b].astype(np.int64) for a, b in spans),
    )
