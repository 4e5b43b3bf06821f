"""Evaluation throughput: rank classification with ``model_scorer`` (an item's choices in one row, the
prompt read once, the last layer only where a choice token is scored) vs ``reference_scorer`` (one
sequence per choice, what rank classification ran before).

Both score the same items — the default study's synthworld tasks and ``evaluate.items_per_task``,
tokenised with a BPE trained (``tokenizer`` section) on the study's corpus — with the same freshly
initialised model (``params.yaml``'s model size, vocab = the tokenizer's, ``pretrain.seq_len``), one
task per ``rank_classify`` call as the evaluate stage does, in one process, alternating run by run so
that other load on the machine hits both alike. Per architecture: items/s by wall clock and by CPU time
(median of ``--repeats``), the largest difference between the two scorers' per-choice log-likelihoods,
and the speedup. Both get the same ``--max-batch-tokens`` (the evaluate stage's default); on CPU the new
scorer cuts its batches to ``CPU_BATCH_TOKENS`` per torch thread. On a shared machine prefer
``--threads 1``: two threads on two busy cores spend most of their time waiting for each other.

    python benchmarks/eval_throughput.py [--archs cd,nd,ed,enc] [--repeats 3] [--threads 2]

Last line: ``eval_throughput: speedup=<median over archs of the items/s ratio>``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from machine import spread, timed, write_result

from pretrainlab.config.load import load_params
from pretrainlab.config.schema import Study, SynthworldSource
from pretrainlab.corpus.build import build_corpus
from pretrainlab.evaluation.batched_scoring import CPU_BATCH_TOKENS
from pretrainlab.evaluation.rank_classification import (
    EncodedItem,
    PromptFormat,
    encode_items,
    model_scorer,
    rank_classify,
    reference_scorer,
)
from pretrainlab.evaluation.suite import resolve_tasks
from pretrainlab.models.build import build_model
from pretrainlab.synthworld import generate_task_items
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.train_bpe import train_tokenizer

PARAMS = Path(__file__).resolve().parent.parent / "params.yaml"
CELLS = {  # architecture and the objective whose prompt format it is scored in (the default study's)
    "cd": ("causal_decoder", "full_lm"),
    "nd": ("noncausal_decoder", "prefix_lm"),
    "ed": ("encoder_decoder", "prefix_lm"),
    "enc": ("encoder", "mlm"),
}
SCORERS = {"reference": reference_scorer, "shared_prompt": model_scorer}


def study_items(params: Study, items_per_task: int) -> tuple[dict[str, list[EncodedItem]], Any]:
    """The evaluate stage's items per task, tokenised with a tokenizer trained on the study's corpus."""
    world = next(s for s in params.corpus.sources if isinstance(s, SynthworldSource))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_corpus(params.corpus, seed=params.seed, out_dir=folder / "corpus", root=folder)
        train_tokenizer(folder / "corpus", params.tokenizer, folder / "tokenizer")
        tokenizer, specials = load_tokenizer(folder / "tokenizer")
    tasks = {
        name: encode_items(
            generate_task_items(
                name, items_per_task, entities=world.entities, documents=world.documents, seed=world.seed
            ),
            tokenizer,
        )
        for name in resolve_tasks(params.evaluate.tasks)
    }
    return tasks, specials


def count_positions(model: torch.nn.Module, counts: list[int]) -> Callable[[], None]:
    """Hooks on the token embeddings (ED has two) that append each forward pass's padded positions to
    ``counts``; returns the function that removes them."""
    embeddings = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    hooks = [
        e.register_forward_hook(lambda _m, args, _out: counts.append(args[0].numel())) for e in embeddings
    ]
    return lambda: [hook.remove() for hook in hooks]


class Recorder:
    """A scorer that keeps what it returned (the per-choice log-likelihoods, in call order)."""

    def __init__(self, scorer: Callable) -> None:
        self.scorer, self.scores = scorer, []

    def __call__(self, examples, skip) -> np.ndarray:
        out = self.scorer(examples, skip)
        self.scores.append(out)
        return out


def run_tasks(
    tasks: dict[str, list[EncodedItem]], scorer: Recorder, fmt: PromptFormat, arch: str, seq_len: int
) -> None:
    """Every task's items, one ``rank_classify`` call per task (as the evaluate stage does)."""
    for items in tasks.values():
        rank_classify(items, scorer, fmt, arch=arch, seq_len=seq_len)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(CELLS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--items-per-task", type=int, default=None, help="default: evaluate.items_per_task")
    parser.add_argument("--max-batch-tokens", type=int, default=8192, help="the evaluate stage's default")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params(PARAMS)
    size_name, size = next(iter(params.models.items()))
    seq_len = params.pretrain.seq_len
    tasks, specials = study_items(params, args.items_per_task or params.evaluate.items_per_task)
    n_items = sum(len(items) for items in tasks.values())

    results: dict[str, Any] = {}
    speedups: list[float] = []
    for key in args.archs.split(","):
        arch, objective = CELLS[key]
        model = build_model(arch, size, specials, seq_len=seq_len, seed=0).eval()
        fmt = PromptFormat.for_model(objective, adapted=False, specials=specials)
        walls: dict[str, list[float]] = {name: [] for name in SCORERS}
        cpus: dict[str, list[float]] = {name: [] for name in SCORERS}
        scores: dict[str, np.ndarray] = {}
        positions: dict[str, list[int]] = {}
        for _ in range(args.repeats):  # alternate, so background load hits both alike
            for name, make in SCORERS.items():
                scorer = Recorder(make(model, arch, specials, max_batch_tokens=args.max_batch_tokens))
                positions[name] = []
                remove_hooks = count_positions(model, positions[name])
                wall, cpu = timed(lambda s=scorer, f=fmt, a=arch: run_tasks(tasks, s, f, a, seq_len))
                remove_hooks()
                walls[name].append(wall)
                cpus[name].append(cpu)
                scores[name] = np.concatenate(scorer.scores)
        rate = {name: n_items / statistics.median(v) for name, v in walls.items()}
        cpu_rate = {name: n_items / statistics.median(v) for name, v in cpus.items()}
        speedup = rate["shared_prompt"] / rate["reference"]
        cpu_speedup = cpu_rate["shared_prompt"] / cpu_rate["reference"]
        difference = float(np.abs(scores["shared_prompt"] - scores["reference"]).max())
        speedups.append(speedup)
        results[key] = {
            "arch": arch,
            "prompt_format_of": objective,
            "items_per_s": rate,
            "items_per_cpu_s": cpu_rate,
            "wall_s": {name: spread(v) for name, v in walls.items()},
            "cpu_s": {name: spread(v) for name, v in cpus.items()},
            "padded_positions_per_run": {name: sum(v) for name, v in positions.items()},
            "speedup": speedup,
            "speedup_cpu_time": cpu_speedup,
            "max_abs_log_likelihood_difference": difference,
        }
        print(
            f"{key}: items/s reference {rate['reference']:.0f}, shared_prompt {rate['shared_prompt']:.0f}; "
            f"speedup {speedup:.2f} (CPU time {cpu_speedup:.2f}); max |Δ log-likelihood| {difference:.1e}",
            flush=True,
        )

    headline = statistics.median(speedups)
    config = {
        "model": {size_name: size.model_dump()},
        "vocab": specials.vocab_size,
        "seq_len": seq_len,
        "tasks": len(tasks),
        "items": n_items,
        "choices": sum(len(i.choices) for items in tasks.values() for i in items),
        "repeats": args.repeats,
        "max_batch_tokens": args.max_batch_tokens,
        "cpu_batch_tokens_per_thread": CPU_BATCH_TOKENS,
        "threads": torch.get_num_threads(),
    }
    write_result("eval_throughput", {"config": config, "archs": results, "speedup": headline})
    print(f"eval_throughput: speedup={headline:.2f}")


if __name__ == "__main__":
    main()
