"""finetune stage (``finetune@<name>``): T0-style multitask prompted finetuning of a pretrained or
adapted model on the synthworld training clusters (the held-out clusters never enter the mixture)."""

from __future__ import annotations

import torch

from pretrainlab.config.budget_checks import eval_at_errors
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read, size_key
from pretrainlab.config.schema import FinetuneCell, ModelSize, Strict, Study, SynthworldSource
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.finetuning.mixture import build_mixture, mtf_examples
from pretrainlab.finetuning.steps import mixture_training
from pretrainlab.models.load import load_pretrained
from pretrainlab.tokenization.load import load_tokenizer
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
    world: SynthworldSource


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


def prepare(name: str, params: Params) -> TrainingJob:
    """The job of ``finetune@<name>``: the source model, with MTF's dropout, on the prompted mixture."""
    cell = params.cell
    source_dir, source = source_model(cell.from_)
    arch, objective = source["arch"], source["objective"]
    tokenizer, specials = load_tokenizer(source_dir)
    model = load_pretrained(source_dir, arch, specials.vocab_size)
    set_dropout(model, cell.dropout)
    world = {
        "entities": params.world.entities,
        "documents": params.world.documents,
        "seed": params.world.seed,
    }
    items = build_mixture(
        world=world, examples_per_task=cell.examples_per_task, cap=cell.cap, seed=params.seed
    )
    examples = mtf_examples(
        items, tokenizer, specials, seq_len=params.seq_len, arch=arch, objective=objective, adapted=True
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
        fingerprint=fingerprint(params.model_dump(mode="json", by_alias=True), source),
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
    values = read(study, study_keys(study, cell))
    worlds = [s for s in values["world"] if isinstance(s, SynthworldSource)]
    if not worlds:
        raise UserInputError(
            "finetune: multitask finetuning uses synthworld tasks; corpus.sources has no synthworld"
        )
    run_job(prepare(cell, Params(**{**values, "world": worlds[0]})), study.resources)
