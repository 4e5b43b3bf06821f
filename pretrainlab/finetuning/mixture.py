"""The T0-style multitask prompted finetuning (MTF) mixture: synthworld's training clusters, every template.

Choices (each changes what the model sees, so each is written down):

* **Tasks.** Every synthworld family whose cluster is in ``TRAINING_CLUSTERS``; a family that is held
  out (or in a ``HELD_OUT_CLUSTERS`` cluster) can never enter, whatever the arguments.
* **Items.** ``split="train"`` items, which are about the other half of the world's entities than
  the ``"eval"`` items rank classification scores, so finetuning never sees an evaluation item.
* **Dataset size** ``n_i`` of a task = its distinct prompts among the first ``examples_per_task`` items
  synthworld generates (small tasks — few facts to ask about — repeat their items sooner, so they have
  fewer distinct prompts: ``comparison.population`` has tens where ``topic.genre`` has thousands).
* **Examples-proportional mixing with a cap** (T5 §3.5.2, T0): task ``i`` contributes
  ``k_i = min(n_i, cap)`` examples, so its share of the mixture is ``k_i / Σ_j k_j`` exactly
  (:func:`mixture_rates`). The list is one epoch of that mixture; :class:`MixtureBatches` repeats it.
* **Templates.** The ``k_i`` items are drawn round-robin over the family's templates (each template's
  items shuffled by ``seed``), so every template is in the mixture once ``k_i`` ≥ the number of templates,
  and templates are balanced.
* **Examples.** Inputs = the prompt, targets = the correct choice + ``</s>``; loss on the targets only.
  Prompt and choice are tokenised exactly as rank classification tokenises them
  (:func:`~pretrainlab.evaluation.rank_classification.encode_items`: separately, no special tokens, the
  choice's leading space kept) and laid out by the same
  :class:`~pretrainlab.evaluation.prompt_layout.PromptFormat` (prompt cut from the left to fit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import zip_longest

import numpy as np

from pretrainlab.evaluation.prompt_layout import PromptFormat
from pretrainlab.evaluation.rank_classification import encode_items
from pretrainlab.models.architectures import ARCHITECTURES, architecture
from pretrainlab.objectives.example import Example
from pretrainlab.synthworld import (
    HELD_OUT_CLUSTERS,
    TASK_FAMILIES,
    TRAINING_CLUSTERS,
    TaskItem,
    generate_task_items,
)
from pretrainlab.tokenization.specials import SpecialTokens

WORLD_KEYS = ("entities", "documents", "seed")


def training_tasks() -> tuple[str, ...]:
    """The families MTF may use, in registry order (never a held-out family or cluster)."""
    return tuple(
        name
        for name, fam in TASK_FAMILIES.items()
        if not fam.held_out and fam.cluster in TRAINING_CLUSTERS and fam.cluster not in HELD_OUT_CLUSTERS
    )


def _world(world: Mapping[str, int]) -> dict[str, int]:
    missing = [k for k in WORLD_KEYS if k not in world]
    if missing:
        raise KeyError(f"world needs keys {WORLD_KEYS}; missing {missing}")
    return {k: int(world[k]) for k in WORLD_KEYS}


def distinct_items(task: str, world: Mapping[str, int], examples_per_task: int) -> list[TaskItem]:
    """The task's training items with distinct prompts among the first ``examples_per_task`` generated."""
    w = _world(world)
    items = generate_task_items(
        task,
        examples_per_task,
        entities=w["entities"],
        documents=w["documents"],
        seed=w["seed"],
        split="train",
    )
    seen: set[str] = set()
    out = []
    for item in items:
        if item.prompt not in seen:
            seen.add(item.prompt)
            out.append(item)
    return out


def mixture_rates(sizes: Mapping[str, int], cap: int) -> dict[str, float]:
    """Examples-proportional rates with a cap: ``min(n_i, cap) / Σ_j min(n_j, cap)``."""
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    capped = {task: min(n, cap) for task, n in sizes.items()}
    total = sum(capped.values())
    if total == 0:
        raise ValueError("every task is empty: nothing to mix")
    return {task: k / total for task, k in capped.items()}


def _template_round_robin(items: Sequence[TaskItem], k: int, rng: np.random.Generator) -> list[TaskItem]:
    by_template: dict[str, list[TaskItem]] = {}
    for item in items:
        by_template.setdefault(item.template, []).append(item)
    groups = []
    for template in sorted(by_template):
        group = by_template[template]
        groups.append([group[i] for i in rng.permutation(len(group))])
    interleaved = [item for row in zip_longest(*groups) for item in row if item is not None]
    return interleaved[:k]


def build_mixture(*, world: Mapping[str, int], examples_per_task: int, cap: int, seed: int) -> list[TaskItem]:
    """One epoch of the MTF mixture: ``min(n_i, cap)`` items of every training task, shuffled by ``seed``.

    ``world`` is the synthworld source the corpus was generated from: ``{entities, documents, seed}``.
    Deterministic in all arguments.
    """
    if examples_per_task < 1:
        raise ValueError(f"examples_per_task must be at least 1, got {examples_per_task}")
    pools = {task: distinct_items(task, world, examples_per_task) for task in training_tasks()}
    rates = mixture_rates({task: len(pool) for task, pool in pools.items()}, cap)  # validates cap
    chosen: list[TaskItem] = []
    for index, (task, pool) in enumerate(pools.items()):
        if rates[task] > 0:
            rng = np.random.default_rng([seed, index, 0x377])
            chosen += _template_round_robin(pool, min(len(pool), cap), rng)
    order = np.random.default_rng([seed, 0x313]).permutation(len(chosen))
    return [chosen[i] for i in order]


def mtf_examples(
    items: Sequence[TaskItem],
    tokenizer,
    specials: SpecialTokens,
    *,
    seq_len: int,
    arch: str,
    objective: str,
    adapted: bool,
) -> list[Example]:
    """Finetuning examples: inputs = prompt (in the model's prompt format), targets = answer ``</s>``.

    ``objective``/``adapted`` pick the :class:`PromptFormat`, and must be what the finetuned model will be
    evaluated with, so training and scoring lay prompts out alike (``adapted=True``: the plain format).
    Decoders get ``len(inputs) + len(targets) <= seq_len``; the encoder-decoder bounds each side by
    ``seq_len``. ``tokenizer`` is a transformers tokenizer (called as in rank classification).
    """
    if not architecture(arch).predicts_targets:
        valid = tuple(name for name, spec in ARCHITECTURES.items() if spec.predicts_targets)
        raise ValueError(f"MTF needs an architecture that predicts targets: one of {valid}, got {arch!r}")
    fmt = PromptFormat.for_model(objective, adapted, specials)
    eos = np.asarray([specials.eos], dtype=np.int64)
    out = []
    for encoded in encode_items(items, tokenizer):
        target = np.concatenate([encoded.choices[encoded.answer], eos])
        out.append(fmt.example(encoded.prompt, target, arch=arch, seq_len=seq_len))
    return out
