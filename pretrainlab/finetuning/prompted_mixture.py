"""The MTF mixture of a cell's ``sources:``: real prompted datasets (and synthworld's tasks), tokenised to disk.

The rules of :mod:`pretrainlab.finetuning.mixture`, applied to prompted datasets:

* **Tasks.** Each source is one task (dataset x template) of ``n_i`` rows; ``{kind: synthworld}`` adds
  synthworld's training tasks (each with its distinct prompts as ``n_i``). Sources in a held-out cluster
  never get here (:mod:`pretrainlab.finetuning.clusters`, checked at validate time).
* **Examples-proportional mixing with a cap**: task ``i`` contributes ``k_i = min(n_i, cap)`` examples,
  its share of the mixture ``k_i / Σ_j k_j`` exactly (:func:`~pretrainlab.finetuning.mixture.mixture_rates`).
  A capped source's ``k_i`` rows are drawn uniformly without replacement (seeded), kept in the source's
  order; an uncapped source keeps every row.
* **Examples.** Inputs = the prompt column, targets = the target column + ``</s>``; loss on the targets
  only. Both are tokenised as rank classification tokenises (separately, no special tokens, the text as
  written) and laid out by the plain :class:`~pretrainlab.evaluation.prompt_layout.PromptFormat`
  (the finetuned model's format), through :func:`~pretrainlab.finetuning.mixture.mtf_examples`.
* **Streaming.** Rows are read and tokenised one batch at a time and appended to a
  :class:`~pretrainlab.finetuning.tokenised_mixture.MixtureWriter` folder; training reads it memory-mapped.
  Every source is opened and its columns checked before anything is written.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pretrainlab.config.schema import FinetuneCell
from pretrainlab.errors import UserInputError
from pretrainlab.finetuning.mixture import build_mixture, mixture_rates, mtf_examples
from pretrainlab.finetuning.prompted_sources import PromptedRows
from pretrainlab.finetuning.tokenised_mixture import MixtureWriter, TokenisedMixture
from pretrainlab.tokenization.specials import SpecialTokens


class _Row(NamedTuple):
    """A prompted row as the task item :func:`mtf_examples` takes: the target is the one choice."""

    prompt: str
    choices: tuple[str]
    answer: int = 0


def chosen_rows(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the ``min(n, cap)`` rows a task contributes (all of them when ``n <= cap``)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def build_prompted_mixture(
    cell: FinetuneCell,
    key: str,
    tokenizer,
    specials: SpecialTokens,
    folder: Path,
    *,
    seq_len: int,
    arch: str,
    objective: str,
    seed: int,
    world: Mapping[str, int] | None,
    root: Path | None = None,
) -> TokenisedMixture:
    """Write the mixture of ``cell.sources`` (none: synthworld's tasks) to ``folder`` (replaced) and open it.

    ``key`` is the cell's params path (``finetune.x``); ``world`` the corpus's synthworld, needed only
    when a source is ``{kind: synthworld}``. On any error ``folder`` is left absent.
    """
    sources = cell.sources or []
    rows = {
        i: PromptedRows(s, f"{key}.sources[{i}]", root)
        for i, s in enumerate(sources)
        if s.kind != "synthworld"
    }
    for opened in rows.values():  # every source's columns, before anything is counted or written
        opened.check()
    sizes: dict[str, int] = {opened.source.task: opened.count() for opened in rows.values()}
    synthworld_items: list = []
    if cell.uses_synthworld:
        if world is None:
            raise UserInputError(f"{key}.sources: synthworld tasks need a synthworld in corpus.sources")
        synthworld_items = build_mixture(
            world=world, examples_per_task=cell.examples_per_task, cap=cell.cap, seed=seed
        )
        for item in synthworld_items:  # already capped: k_i items of each task
            sizes[item.task] = sizes.get(item.task, 0) + 1
    try:
        mixture_rates(sizes, cell.cap)
    except ValueError as err:
        raise UserInputError(f"{key}.sources: {err}") from err
    shutil.rmtree(folder, ignore_errors=True)
    writer = MixtureWriter(folder)
    try:
        tasks = _write(
            writer, cell, rows, synthworld_items, sizes, tokenizer, specials, seq_len, arch, objective, seed
        )
        writer.close(tasks)
    except BaseException:
        writer.abort()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # synthworld alone: build_mixture's order, as the in-memory mixture had it; else a seeded shuffle
    return TokenisedMixture.open(folder, None if cell.sources is None else seed)


def _write(
    writer: MixtureWriter,
    cell: FinetuneCell,
    rows: Mapping[int, PromptedRows],
    synthworld_items: Sequence,
    sizes: Mapping[str, int],
    tokenizer,
    specials: SpecialTokens,
    seq_len: int,
    arch: str,
    objective: str,
    seed: int,
) -> list[dict]:
    def examples(items: Sequence) -> list:
        return mtf_examples(
            items, tokenizer, specials, seq_len=seq_len, arch=arch, objective=objective, adapted=True
        )

    tasks: list[dict] = []
    for i, opened in rows.items():
        source = opened.source
        n = sizes[source.task]
        keep = chosen_rows(n, cell.cap, np.random.default_rng([seed, i, 0x5EC]))
        start = written = 0
        for batch in opened.batches():
            stop = start + len(batch["inputs"])
            lo, hi = np.searchsorted(keep, [start, stop])
            picked = [_Row(batch["inputs"][j - start], (batch["targets"][j - start],)) for j in keep[lo:hi]]
            written += writer.add(examples(picked), len(tasks))
            start = stop
        tasks.append({"name": source.task, "cluster": source.cluster, "n": n, "k": written})
    ids: dict[str, int] = {}
    for item in synthworld_items:  # in build_mixture's (shuffled) order
        if item.task not in ids:
            ids[item.task] = len(tasks)
            tasks.append(
                {"name": item.task, "cluster": item.cluster, "n": sizes[item.task], "k": sizes[item.task]}
            )
    writer.add(examples(synthworld_items), [ids[item.task] for item in synthworld_items])
    return tasks
