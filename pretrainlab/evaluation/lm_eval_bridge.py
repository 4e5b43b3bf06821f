"""lm-evaluation-harness bridge: score a saved model on lm-eval tasks (the optional ``[eval]`` extra).

One backend per architecture, each scoring ``log p(continuation | context)`` the way the model was
trained to read a prompt:

* ``causal_decoder`` — lm-eval's HF causal backend (``HFLM(backend="causal")``).
* ``encoder_decoder`` — lm-eval's HF seq2seq backend (``HFLM(backend="seq2seq")``): context in the
  encoder, continuation in the decoder.
* ``noncausal_decoder`` — the registered ``pretrainlab-noncausal`` LM
  (:mod:`pretrainlab.evaluation.lm_eval_noncausal`): context as the bidirectional prefix.

**Prompt format.** The model's card records the format its last training taught it
(:mod:`pretrainlab.evaluation.prompt_formats`), and the bridge scores in that format, as our rank
classification does: the stock HF backends when it is ``plain``; otherwise (a sentinel after the
context for span corruption, the ``[S2S]`` mode token for UL2) our
:class:`~pretrainlab.evaluation.lm_eval_noncausal.PretrainlabLM` for every architecture, which scores
log-likelihoods only (generative tasks are refused for it).

Choices made here (each changes the numbers, so each is written down):

* **Loading.** Model and tokenizer are loaded by our checked loaders
  (:func:`~pretrainlab.models.load.load_pretrained`, :func:`~pretrainlab.tokenization.load.load_tokenizer`:
  float32, stock classes, never remote code) and handed to HFLM as objects.
* **No BOS** (``add_bos_token=False``), as in our rank classification: pretraining documents carry
  none. An empty context is replaced by lm-eval's prefix token (``<s>``).
* **Context length** is the model's ``max_position_embeddings`` (the ``seq_len`` it was trained at);
  longer requests are cut from the left (ND: as our rank classification cuts them).
* **Tokenisation** is lm-eval's (``TemplateLM._encode_pair``): trailing spaces of the context move to
  the continuation; CD and ND (the causal backend) encode ``context + continuation`` and split at the
  length of the encoded context; ED (seq2seq) encodes the two separately. With a byte-level BPE and
  a continuation that starts with a space (lm-eval's default ``target_delimiter``) the split falls on
  a pre-token boundary, so the ids equal our separate tokenisation of prompt and choice.
* **Metrics.** lm-eval's own: ``acc`` is argmax of the summed log-likelihood (our ``accuracy``);
  lm-eval's ``acc_norm`` divides by the choice's *characters* (ours by tokens or bytes).
  Zero-shot unless a task's YAML sets ``num_fewshot``; fixed seeds (lm-eval's defaults).
* **Tasks** by name (built-in or under ``include_path``), resolved before any model is loaded.
  Local task YAMLs read local files with ``dataset_path: json`` and ``dataset_kwargs.data_files``;
  relative ``data_files`` are relative to the working directory (the repository root under DVC),
  as in lm-eval itself. The suites ``t0_eval`` and ``eai_eval`` are names too
  (:mod:`pretrainlab.evaluation.lm_eval_suites`); ``dataset_paths`` reads a task's hub dataset from
  local files (:mod:`pretrainlab.evaluation.lm_eval_datasets`). Tasks are loaded one at a time, so a
  dataset that cannot be loaded is named with what to download.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
import math
import os
import random
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.lm_eval_datasets import dataset_key, missing_dataset, redirected
from pretrainlab.evaluation.lm_eval_suites import (
    ACCURACY_METRICS,
    EAI_EVAL,
    T0_EVAL,
    T0_FOLDER,
    expand_suites,
    suite_results,
)
from pretrainlab.evaluation.prompt_formats import PLAIN, card_prompt_format, prompt_format
from pretrainlab.metrics_contract import SuiteResult
from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.architectures import ARCHITECTURES
from pretrainlab.models.load import load_pretrained
from pretrainlab.tokenization.load import load_tokenizer, tokenizer_fingerprint

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'pretrainlab[eval]'"
KEY = "evaluate.lm_eval"  # the params key path errors name
DEFAULT_RANDOM_SEED, DEFAULT_OTHER_SEED = 0, 1234  # lm_eval.defaults (simple_evaluate's seeds)
DATA_PACKAGES = ("datasets", "huggingface_hub", "fsspec")  # where a dataset that cannot be read fails


def backend(spec: ArchitectureSpec) -> str | None:
    """HFLM's backend for ``spec`` ("noncausal": ours, :class:`PretrainlabLM`); None if it cannot continue
    a prompt (a BERT-style encoder)."""
    if not spec.predicts_targets:
        return None
    if spec.is_encoder_decoder:
        return "seq2seq"
    return "noncausal" if spec.bidirectional_prefix else "causal"


def backends() -> dict[str, str]:
    """Architecture name -> HFLM backend, for every architecture the bridge scores."""
    return {name: kind for name, spec in ARCHITECTURES.items() if (kind := backend(spec)) is not None}


BACKENDS = backends()  # the built-in architectures'


def require_lm_eval() -> ModuleType:
    """The ``lm_eval`` package, or a :class:`UserInputError` with the install hint."""
    try:
        return importlib.import_module("lm_eval")
    except ImportError as error:
        raise UserInputError(
            f"{KEY}: lm-evaluation-harness is not installed; install the extra: {INSTALL_HINT}"
        ) from error


def _check_arch(arch: str, where: object) -> None:
    if arch not in (scored := backends()):
        raise UserInputError(
            f"{where}: the lm-eval bridge scores {', '.join(scored)}, not {arch!r} "
            "(a BERT-style encoder cannot continue a prompt)"
        )


@functools.lru_cache(maxsize=4)
def _index(include_path: str | None, include_defaults: bool):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, include_defaults=include_defaults)


def task_manager(tasks: Sequence[str], include_path: Path | None, *, builtins: bool = False):
    """An lm-eval ``TaskManager`` that knows every name in ``tasks``, else a UserInputError naming them.

    Indexing lm-eval's thousands of built-in task YAMLs takes seconds, so when ``include_path`` holds
    every requested task (and ``builtins`` is not asked for) the built-ins are not indexed at all; an
    index is built once per process.
    """
    require_lm_eval()
    folder = None
    if include_path is not None:
        if not Path(include_path).is_dir():
            raise UserInputError(f"{KEY}.include_path: {include_path} is not a directory")
        folder = str(Path(include_path).resolve())
        local = _index(folder, False)
        if not builtins and all(name in local.all_tasks for name in tasks):
            return local
    manager = _index(folder, True)
    unknown = [name for name in tasks if name not in manager.all_tasks]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, manager.all_tasks, n=5, cutoff=0.6)
            if name == T0_EVAL:
                close = [f"include_path: {T0_FOLDER}, which holds its task YAMLs in {T0_FOLDER}/t0_eval"]
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        where = f" or under {include_path}" if include_path else ""
        raise UserInputError(
            f"{KEY}.tasks: unknown lm-eval task(s) {'; '.join(hints)}: not a task, group or tag of "
            f"lm-eval{where} (list them with `lm-eval ls tasks`)"
        )
    return manager


def resolve_tasks(tasks: Sequence[str], include_path: Path | None) -> tuple[Any, list[str], list[str]]:
    """``(manager, names, skipped)``: the ``TaskManager``, the lm-eval names to load (``eai_eval``
    expanded into its installed tasks) and the EAI-Eval tasks the installed harness lacks."""
    requested = list(dict.fromkeys(tasks))
    if not requested:
        raise UserInputError(f"{KEY}.tasks: no task given")
    if EAI_EVAL not in requested:
        return task_manager(requested, include_path), requested, []
    manager = task_manager([n for n in requested if n != EAI_EVAL], include_path, builtins=True)
    names, skipped = expand_suites(requested, lambda name: name in manager.all_tasks)
    return manager, names, skipped


def check_lm_eval(tasks: Sequence[str], include_path: Path | None, *, arch: str) -> None:
    """Fail fast, before any evaluation: lm-eval installed, ``arch`` supported, every task known."""
    require_lm_eval()
    _check_arch(arch, KEY)
    resolve_tasks(tasks, include_path)


def _scored_by_us(arch: str, format_name: str) -> bool:
    """Whether :class:`PretrainlabLM` scores this model (ND, or a format no stock backend builds)."""
    return backends().get(arch) == "noncausal" or format_name != PLAIN


def _specs(manager, names: Sequence[str], dataset_paths: Mapping[str, str]):
    """``(spec, config, name)`` per loadable unit: each task of a tag or a name, its YAML's config
    (redirected to local files when ``dataset_paths`` maps its dataset) as the spec; a group or a
    Python task is loaded whole by name (config None)."""
    from lm_eval.tasks._index import Kind  # lm-eval 0.4.13 (requirements.lock)

    leaves: list[str] = []
    for name in names:
        entry = manager.task_index[name]
        leaves += sorted(entry.tags) if entry.kind is Kind.TAG else [name]
    for name in dict.fromkeys(leaves):
        entry = manager.task_index.get(name)
        if entry is None or entry.kind is not Kind.TASK:
            yield name, None, name
            continue
        config = manager._factory._load_full_config(entry)  # what TaskManager.load builds the task from
        if config.get("output_type") == "multiple_choice" and config.get("doc_to_choice") is None:
            source = config.get("metadata", {}).get("config_source", name)
            raise UserInputError(
                f"{source}: task {name} is scored by rank classification (multiple_choice) but its template "
                "has no answer choices: add doc_to_choice"
            )
        yield redirected(config, dataset_paths) or name, config, name


def _raised_loading_data(error: BaseException) -> bool:
    """Whether ``error`` came from ``datasets`` / ``huggingface_hub`` (a dataset that could not be read),
    not from the task's own config or code."""
    frames = traceback.extract_tb(error.__traceback__)
    return any(
        f"{os.sep}{package}{os.sep}" in frame.filename for frame in frames for package in DATA_PACKAGES
    )


def load_tasks(
    tasks: Sequence[str],
    include_path: Path | None,
    *,
    arch: str | None = None,
    format_name: str = PLAIN,
    dataset_paths: Mapping[str, str] | None = None,
) -> dict:
    """lm-eval's ``TaskDict`` for ``tasks``, datasets loaded, zero-shot unless a YAML sets
    ``num_fewshot``; every failure is a UserInputError. ``arch="noncausal_decoder"`` or a prompt format
    other than plain refuses generative tasks (our LM scores log-likelihoods only)."""
    manager, names, _ = resolve_tasks(tasks, include_path)
    specs = list(_specs(manager, names, dataset_paths or {}))
    read = sorted({dataset_key(config) for _, config, _ in specs if config is not None})
    unread = [
        key for key in dataset_paths or {} if not any(k == key or k.startswith(f"{key}/") for k in read)
    ]
    if unread:  # a misspelt hub name, or a mapping shared by studies that select other tasks
        log.warning(
            "%s.dataset_paths: no selected task reads %s (they read %s)",
            KEY,
            ", ".join(unread),
            ", ".join(read),
        )
    loaded: dict[str, dict] = {"tasks": {}, "groups": {}, "group_map": {}}
    for spec, config, name in specs:
        try:
            part = manager.load([spec])
        except Exception as error:  # datasets raises many types: missing file, offline, bad config
            if config is not None and _raised_loading_data(error):
                raise missing_dataset(name, config, error) from error
            reason = " ".join(str(error).split())[:300]
            raise UserInputError(
                f"{KEY}.tasks: cannot load lm-eval task {name} ({type(error).__name__}: {reason}); a hub "
                "dataset must already be in the local HF cache when offline"
            ) from error
        for field in loaded:
            loaded[field].update(part[field])
    if arch is not None and _scored_by_us(arch, format_name):
        generative = sorted(n for n, t in loaded["tasks"].items() if t.OUTPUT_TYPE == "generate_until")
        if generative:
            who = arch if format_name == PLAIN else f"{arch} (prompt format {format_name})"
            raise UserInputError(
                f"{KEY}.tasks: {', '.join(generative)} generate text; the {who} bridge "
                "scores log-likelihoods only (multiple_choice, loglikelihood, loglikelihood_rolling)"
            )
    for task in loaded["tasks"].values():  # as simple_evaluate does
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
    return loaded


def _max_length(config) -> int | None:
    for cfg in (config, getattr(config, "decoder", None)):
        if cfg is not None and getattr(cfg, "max_position_embeddings", None):
            return int(cfg.max_position_embeddings)
    return None


def load_for_lm_eval(model_dir: Path, arch: str, *, device: str | torch.device = "cpu"):
    """``(model, tokenizer, specials)`` from ``model_dir`` through our checked loaders, model on ``device``."""
    tokenizer, specials = load_tokenizer(model_dir)
    model = load_pretrained(
        Path(model_dir), arch, specials.vocab_size, tokenizer_sha256=tokenizer_fingerprint(model_dir)
    )
    model = model.to(device).eval()
    return model, tokenizer, specials


def hflm_options(model, tokenizer) -> dict[str, Any]:
    """HFLM keyword arguments every backend shares (see the module docstring)."""
    return dict(
        tokenizer=tokenizer,
        add_bos_token=False,
        max_length=_max_length(model.config),
        trust_remote_code=False,
    )


def build_lm(model_dir: Path, *, arch: str, batch_size: int = 16, device: str | torch.device = "cpu"):
    """The lm-eval ``LM`` for the saved model in ``model_dir``, in the prompt format of its card (see
    the module docstring)."""
    require_lm_eval()
    _check_arch(arch, model_dir)
    format_name = card_prompt_format(Path(model_dir))
    model, tokenizer, specials = load_for_lm_eval(Path(model_dir), arch, device=device)
    options = dict(hflm_options(model, tokenizer), batch_size=batch_size)
    if _scored_by_us(arch, format_name):
        from pretrainlab.evaluation.lm_eval_noncausal import PretrainlabLM

        fmt = prompt_format(format_name, specials)
        return PretrainlabLM(model, arch, specials=specials, prompt_format=fmt, **options)
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model, backend=backends()[arch], **options)


def evaluate_tasks(lm, loaded: dict, *, limit: int | None = None, log_samples: bool = False) -> dict:
    """lm-eval's raw results for the loaded tasks (``results``, ``n-samples``, ``samples`` if logged).

    Seeds the global RNGs as ``simple_evaluate`` does. Mean metrics (``acc``) get lm-eval's closed-form
    stderr; others a 1000-resample bootstrap (lm-eval's default of 100000 is slow and rarely needed).
    """
    from lm_eval.evaluator import evaluate
    from lm_eval.utils import set_torch_seed

    # simple_evaluate's seeds, so numbers match a stock `lm-eval run` of the same tasks
    random.seed(DEFAULT_RANDOM_SEED)
    np.random.seed(DEFAULT_OTHER_SEED)
    set_torch_seed(DEFAULT_OTHER_SEED)
    results = evaluate(lm=lm, task_dict=loaded, limit=limit, log_samples=log_samples, bootstrap_iters=1000)
    assert results is not None  # None only on non-zero ranks of a distributed run
    return dict(results)


def summarise(results: Mapping[str, Any]) -> dict[str, dict[str, float | int | None]]:
    """``{task: {metric: value}}`` from lm-eval's results: ``acc``, ``acc_stderr``, ``acc_norm``, ...,
    and ``n`` (items scored). Metrics under a filter other than ``none`` keep it (``exact_match,strict``);
    a stderr lm-eval could not compute is ``None``."""
    summary: dict[str, dict[str, float | int | None]] = {}
    samples = results.get("n-samples", {})
    for task, entry in sorted(results["results"].items()):
        metrics: dict[str, float | int | None] = {}
        for key, value in entry.items():
            if key == "alias" or "," not in key:
                continue
            metric, _, filter_name = key.partition(",")
            name = metric if filter_name == "none" else key
            number = isinstance(value, (int, float)) and math.isfinite(value)
            metrics[name] = float(value) if number else None  # "N/A" or NaN stderr: null in JSON
        if task in samples:
            metrics["n"] = int(samples[task]["effective"])
        summary[task] = metrics
    return summary


def item_correctness(results: Mapping[str, Any]) -> dict[str, list[int]]:
    """``{task: [1/0 per item, in document order]}`` from lm-eval's logged samples (``acc`` per item, or
    ``exact_match``: :data:`ACCURACY_METRICS`)."""
    correctness = {}
    for task, samples in results.get("samples", {}).items():
        metric = next((m for m in ACCURACY_METRICS if samples and m in samples[0]), None)
        if metric is not None:
            ordered = sorted(samples, key=lambda s: s["doc_id"])
            correctness[task] = [int(sample[metric]) for sample in ordered]
    return correctness


def evaluate_lm_eval(
    model_dir: Path,
    *,
    arch: str,
    tasks: Sequence[str],
    include_path: Path | None = None,
    limit: int | None = None,
    dataset_paths: Mapping[str, str] | None = None,
    loaded: dict | None = None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> tuple[dict[str, dict[str, float | int | None]], dict[str, SuiteResult]]:
    """Run lm-eval ``tasks`` on the saved model: ``({task: {metric: value}}, {suite: SuiteResult})``,
    the second for the suites ``tasks`` names (:func:`summarise`, :func:`~pretrainlab.evaluation.
    lm_eval_suites.suite_results`).

    Tasks are resolved, the model card's prompt format read and the tasks' data loaded before the
    model: a bad name, path, card or dataset raises :class:`UserInputError` before anything is
    computed. ``loaded``: the :func:`load_tasks` of these arguments, made earlier (the evaluate stage
    loads the datasets before its own evaluation, so a missing one stops it before minutes of work).
    ``batch_size`` and ``device`` are operational.
    """
    check_lm_eval(tasks, include_path, arch=arch)
    _, _, skipped = resolve_tasks(tasks, include_path)
    if loaded is None:
        format_name = card_prompt_format(Path(model_dir))
        loaded = load_tasks(
            tasks, include_path, arch=arch, format_name=format_name, dataset_paths=dataset_paths
        )
    lm = build_lm(Path(model_dir), arch=arch, batch_size=batch_size, device=device)
    raw = evaluate_tasks(lm, loaded, limit=limit, log_samples=True)
    summary = summarise(raw)
    for task, metrics in summary.items():
        log.info("%s: lm-eval %s %s", Path(model_dir).name, task, metrics)
    return summary, suite_results(tasks, summary, item_correctness(raw), skipped)


def run_lm_eval(model_dir: Path, **options: Any) -> dict[str, dict[str, float | int | None]]:
    """:func:`evaluate_lm_eval`'s ``{task: {metric: value}}``."""
    return evaluate_lm_eval(model_dir, **options)[0]
