"""inputs stage: the raw files the study names outside data/ -> one manifest (path, size, sha256) per
consuming stage under ``data/inputs/`` (:mod:`pretrainlab.inputs`); dvc.yaml runs it every time."""

from __future__ import annotations

from pathlib import Path

from pretrainlab.atomic import write_json
from pretrainlab.config.keys import read
from pretrainlab.config.schema import (
    AdaptCell,
    FinetuneCell,
    LmEvalConfig,
    Source,
    Strict,
    Study,
    TokenizerConfig,
)
from pretrainlab.inputs import HASH_CACHE, MANIFESTS, HashCache, folder_inputs, listing, sources_manifest
from stages import check_environment


class Params(Strict):
    sources: list[Source]
    tokenizer: TokenizerConfig
    adapt: dict[str, AdaptCell]
    finetune: dict[str, FinetuneCell]
    lm_eval: LmEvalConfig | None


def run(params: Params, root: Path | None = None) -> None:
    root = Path.cwd() if root is None else root
    hashes = HashCache(root / HASH_CACHE)
    lm_eval_folder = params.lm_eval.include_path if params.lm_eval else None
    manifests = {
        "corpus": sources_manifest(params.sources, "corpus.sources", root, hashes),
        "tokenizer": {
            "tokenizer.pretrained": listing(folder_inputs(params.tokenizer.pretrained, root), root, hashes)
        },
        "adapt": cells_manifest("adapt", params.adapt, root, hashes),
        "finetune": cells_manifest("finetune", params.finetune, root, hashes),
        "evaluate": {
            "evaluate.lm_eval.include_path": listing(folder_inputs(lm_eval_folder, root), root, hashes),
            **{  # local copies of the suites' datasets (a file or a folder each)
                f"evaluate.lm_eval.dataset_paths[{name}]": listing(folder_inputs(path, root), root, hashes)
                for name, path in (params.lm_eval.dataset_paths if params.lm_eval else {}).items()
            },
        },
    }
    for name, manifest in manifests.items():  # every input listed before any manifest is replaced
        write_json(root / MANIFESTS[name], manifest)
    hashes.save()


def cells_manifest(section: str, cells: dict, root: Path, hashes: HashCache) -> dict:
    """The files behind every cell's own ``sources`` in ``section`` (adapt, finetune), keyed
    ``<section>.<cell>.sources[i]``."""
    return {
        key: files
        for name, cell in cells.items()
        for key, files in sources_manifest(
            cell.sources or [], f"{section}.{name}.sources", root, hashes
        ).items()
    }


def study_keys(study: Study, cell: str | None = None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    return {
        "sources": "corpus.sources",
        "tokenizer": "tokenizer",
        "adapt": "adapt",
        "finetune": "finetune",
        "lm_eval": "evaluate.lm_eval",
    }


def main(study: Study, cell: str | None = None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    run(Params(**read(study, study_keys(study, cell))))
