"""Where an lm-eval task's dataset is read from: the hub (or its local HF cache), or local files named in
``evaluate.lm_eval.dataset_paths`` (a cluster's shared filesystem, a test's fixtures).

A task YAML names its dataset as the hub does (``dataset_path: aps/super_glue``, ``dataset_name: cb``).
The mapping's key is ``dataset_path/dataset_name`` or ``dataset_path``; its value a folder of
``<split>.{jsonl,json,parquet,csv}`` files (with a bare ``dataset_path`` key, ``<folder>/<dataset_name>/``
first when it exists) or one such file, which then serves the split the task scores. The files hold the
hub dataset's columns; the task reads them through ``datasets``' ``json``/``parquet``/``csv`` builders.
A split the task declares but the folder lacks (a training split used only for few-shot examples) is
dropped from the task; the split it scores must be there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pretrainlab.errors import UserInputError

KEY = "evaluate.lm_eval.dataset_paths"
BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
SPLIT_FIELDS = ("training_split", "validation_split", "test_split", "fewshot_split")


def dataset_key(config: Mapping[str, Any]) -> str:
    """The task's hub dataset, ``path/name`` or ``path`` (the key ``dataset_paths`` maps)."""
    path, name = config.get("dataset_path"), config.get("dataset_name")
    return f"{path}/{name}" if name else str(path)


def scored_split(config: Mapping[str, Any]) -> str | None:
    """The split lm-eval scores: the test split if the task has one, else its validation split."""
    return config.get("test_split") or config.get("validation_split")


def _split_file(folder: Path, split: str) -> Path | None:
    for suffix in BUILDERS:
        if (candidate := folder / f"{split}{suffix}").is_file():
            return candidate
    return None


def redirected(config: Mapping[str, Any], dataset_paths: Mapping[str, str]) -> dict[str, Any] | None:
    """``config`` reading its dataset from the local files ``dataset_paths`` maps it to; None when the
    mapping does not name its dataset. A mapped folder or file that is not there: UserInputError."""
    path, name = config.get("dataset_path"), config.get("dataset_name")
    key = next((k for k in (f"{path}/{name}" if name else None, path) if k and k in dataset_paths), None)
    if key is None:
        return None
    target = Path(dataset_paths[key])
    task, split = config.get("task"), scored_split(config)
    if split is None:
        raise UserInputError(f"{KEY}.{key}: task {task} declares no test or validation split to read")
    if target.is_file():
        files = {split: target}
    elif target.is_dir():
        folder = target / name if name and key == path and (target / name).is_dir() else target
        files = {s: f for field in SPLIT_FIELDS if (s := config.get(field)) and (f := _split_file(folder, s))}
        if split not in files:
            raise UserInputError(
                f"{KEY}.{key}: no {folder}/{split}.{{jsonl,json,parquet,csv}} (task {task} scores split "
                f"{split!r}; files there: {', '.join(sorted(p.name for p in folder.iterdir())) or 'none'})"
            )
    else:
        raise UserInputError(f"{KEY}.{key}: {target} is neither a file nor a folder")
    builders = {BUILDERS.get(f.suffix) for f in files.values()}
    if None in builders or len(builders) != 1:
        raise UserInputError(
            f"{KEY}.{key}: {', '.join(str(f) for f in files.values())}: one format of .jsonl, .json, "
            ".parquet or .csv per dataset"
        )
    local = {**config, "dataset_path": builders.pop(), "dataset_name": None}
    local["dataset_kwargs"] = {"data_files": {s: str(f) for s, f in files.items()}}
    for field in SPLIT_FIELDS:
        if config.get(field) and config[field] not in files:
            local[field] = None
    return local


def missing_dataset(task: str, config: Mapping[str, Any], error: BaseException) -> UserInputError:
    """The one-line "what to download" error for a task whose dataset could not be loaded."""
    key = dataset_key(config)
    path, name = config.get("dataset_path"), config.get("dataset_name")
    call = f"datasets.load_dataset({path!r}" + (f", {name!r})" if name else ")")
    reason = " ".join(str(error).split())[:200] or type(error).__name__
    return UserInputError(
        f"evaluate.lm_eval.tasks: task {task} needs dataset {key} (split {scored_split(config)}), which "
        f"could not be loaded ({type(error).__name__}: {reason}). Download it while online "
        f'(`python -c "import datasets; {call}"` fills the HF cache), or point {KEY} '
        f"{{{key}: <folder of <split>.jsonl|parquet files>}} at a local copy"
    )
