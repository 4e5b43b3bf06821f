"""finetune stage (``finetune@<name>``): T0-style multitask prompted finetuning of a pretrained or
adapted model on the synthworld training clusters or the cell's prompted ``sources`` (the held-out
clusters never enter the mixture).

The tokenised mixture is an output of this stage (``data/mixtures/<name>``), written before training and
read memory-mapped: it depends on the sources (``data/inputs/finetune.json``), the tokenizer, the cell
and ``pretrain.seq_len``, all of them already this stage's dependencies, so a stage of its own would only
save re-tokenising when a training-only key (budget, optimizer) changes, at the price of one more stage
per cell. Each rank writes its own copy under a temporary name; the main rank's replaces the output
once training has published, and a failed run leaves none.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import torch

from pretrainlab import paths
from pretrainlab.config.budget_checks import eval_at_errors
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read, size_key
from pretrainlab.config.schema import FinetuneCell, ModelSize, Strict, Study, SynthworldSource
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.finetuning.prompted_mixture import build_prompted_mixture
from pretrainlab.finetuning.steps import mixture_training
from pretrainlab.inputs import MANIFESTS
from pretrainlab.models.load import load_pretrained
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.training.cell import CellOutputs, ModelCard, source_model
from pretrainlab.training.job import TrainingJob, run_job
from pretrainlab.training.snapshots import snapshot_points
from stages import check_environment


class Params(Strict):
    """Exactly the keys dvc.yaml lists for ``finetune@<name>``."""

    seed: int
    seq_len: int
    batch_tokens: int
    cell: FinetuneCell
    size: ModelSize
    world: SynthworldSource | None  # the corpus's first synthworld, if any


MIXTURES = paths.DATA / "mixtures"


def mixture_folders(name: str) -> tuple[Path, Path]:
    """(the output, this rank's temporary folder) of the tokenised mixture of ``finetune@<name>``."""
    final = MIXTURES / name
    return final, final.with_name(f".{name}.rank{os.environ.get('RANK', '0')}.tmp")


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """MTF's dropout on every dropout site (attention probabilities and dropout layers), saved in the config."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
        if hasattr(module, "attention_dropout"):
            module.attention_dropout = p
    for config in (
        model.config,
        getattr(model.config, "encoder", None),
        getattr(model.config, "decoder", None),
    ):
        if config is not None and hasattr(config, "attention_dropout"):
            config.attention_dropout = p


def _input_files(name: str) -> list[dict]:
    """The listing of the cell's local source files (the inputs stage's), so that a checkpoint of a
    mixture from other files is not resumed; none for a synthworld-only cell."""
    manifest = MANIFESTS["finetune"]
    if not manifest.is_file():
        return []
    listed = json.loads(manifest.read_text())
    mine = {key: files for key, files in listed.items() if key.startswith(f"finetune.{name}.sources[")}
    return [mine] if mine else []


def prepare(name: str, params: Params, folder: Path) -> TrainingJob:
    """The job of ``finetune@<name>``: the source model, with MTF's dropout, on the prompted mixture
    (tokenised into ``folder``)."""
    cell = params.cell
    source_dir, source = source_model(cell.from_)
    arch, objective = source["arch"], source["objective"]
    tokenizer, specials = load_tokenizer(source_dir)
    model = load_pretrained(source_dir, arch, specials.vocab_size)
    set_dropout(model, cell.dropout)
    world = (
        None if params.world is None else params.world.model_dump(include={"entities", "documents", "seed"})
    )
    examples = build_prompted_mixture(
        cell,
        f"finetune.{name}",
        tokenizer,
        specials,
        folder,
        seq_len=params.seq_len,
        arch=arch,
        objective=objective,
        seed=params.seed,
        world=world,
    )
    mixture = mixture_training(
        examples,
        cell,
        arch,
        specials,
        params.size,
        seq_len=params.seq_len,
        batch_tokens=params.batch_tokens,
        seed=params.seed,
        key=f"finetune.{name}",
    )
    key = f"finetune.{name}"
    if errors := eval_at_errors(cell.eval_at.tokens, mixture.plan, cell.budget, f"{key}.eval_at", key):
        raise UserInputError("; ".join(errors))  # its steps depend on the mixture: validate cannot tell
    prompt_format = prompt_format_name(objective, multitask_finetuned=True)
    return TrainingJob(
        model=model,
        plan=mixture.plan,
        batches=mixture.batches,
        val_batches=mixture.val_batches,
        optimizer=cell.optimizer,
        seed=params.seed,
        fingerprint=fingerprint(params.model_dump(mode="json", by_alias=True), source, *_input_files(name)),
        card=ModelCard(
            name,
            "finetune",
            arch,
            objective,
            prompt_format,
            params.seq_len,
            source.get("tokenizer_sha256"),
            source=cell.from_,
            mixture_examples=mixture.train_examples,
        ),
        outputs=CellOutputs.of("finetune", name),
        batch_keys=(("pretrain.batch_tokens", params.batch_tokens), ("pretrain.seq_len", params.seq_len)),
        eval_at=snapshot_points(mixture.plan, cell.eval_at.tokens),
    )


def study_keys(study: Study, cell: str | None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    return {
        "seed": "seed",
        "seq_len": "pretrain.seq_len",
        "batch_tokens": "pretrain.batch_tokens",
        "cell": f"finetune.{cell}",
        "size": size_key(study, f"finetune/{cell}"),  # the source model's, set by its pretrain cell
        "world": "corpus.sources",  # the first synthworld source among them
    }


def main(study: Study, cell: str | None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    if cell not in study.finetune:
        raise UserInputError(
            f"finetune: no finetuning named {cell!r} (defined: {', '.join(study.finetune) or 'none'})"
        )
    keys = study_keys(study, cell)
    values = read(study, keys)
    worlds = [s for s in values["world"] if isinstance(s, SynthworldSource)]
    if study.finetune[cell].uses_synthworld and not worlds:
        raise UserInputError(
            f"finetune.{cell}: the mixture uses synthworld tasks (no sources, or a synthworld source) but "
            "corpus.sources has no synthworld; list prompted datasets under sources"
        )
    final, folder = mixture_folders(cell)
    try:
        params = Params(**{**values, "world": worlds[0] if worlds else None})
        run_job(prepare(cell, params, folder), study.resources, TrackedRun.of(study, params, keys))
        if os.environ.get("RANK", "0") == "0":
            shutil.rmtree(final, ignore_errors=True)
            folder.rename(final)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # a failed first run leaves no trace (another rank's may)
            MIXTURES.rmdir()
