"""finetune stage (``finetune@<name>``): T0-style multitask prompted finetuning of a pretrained or
adapted model on the synthworld training clusters (the held-out clusters never enter the mixture)."""

from __future__ import annotations

import torch

from pretrainlab import paths
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read, size_key
from pretrainlab.config.schema import FinetuneCell, ModelSize, ResourcesConfig, Strict, SynthworldSource
from pretrainlab.config.schema import Params as Study
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.finetuning.mixture import build_mixture, mtf_examples
from pretrainlab.finetuning.steps import finetune_batches, finetune_plan
from pretrainlab.models.load import load_pretrained
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.training.cell import CellOutputs, source_model, train_cell
from stages import check_environment

VAL_FRACTION = 0.05  # of the mixture, held back for the loss curve


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


def run(name: str, params: Params, resources: ResourcesConfig) -> None:
    cell = params.cell
    source_dir, source = source_model(cell.from_)
    arch = source["arch"]
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
        items,
        tokenizer,
        specials,
        seq_len=params.seq_len,
        arch=arch,
        objective=source["objective"],
        adapted=True,
    )
    n_val = max(1, int(len(examples) * VAL_FRACTION))
    train_examples, val_examples = examples[n_val:], examples[:n_val]
    batch_size = params.batch_tokens // params.seq_len
    batches = finetune_batches(
        train_examples, cell, arch, specials, seq_len=params.seq_len, batch_size=batch_size, seed=params.seed
    )
    val = finetune_batches(
        val_examples, cell, arch, specials, seq_len=params.seq_len, batch_size=batch_size, seed=0
    )
    val_batches = [val(step) for step in range(max(1, len(val.rows.examples) // batch_size))]
    plan = finetune_plan(train_examples, batches, cell, params.size, batch_size=batch_size)
    outputs = CellOutputs.of("finetune", name)
    card = {
        "name": name,
        "kind": "finetune",
        "from": cell.from_,
        "arch": arch,
        "objective": source["objective"],
        "prompt_format": prompt_format_name(source["objective"], multitask_finetuned=True),
        "seq_len": params.seq_len,
        "tokenizer_sha256": source.get("tokenizer_sha256"),
        "mixture_examples": len(train_examples),
    }
    train_cell(
        model,
        plan,
        batches,
        val_batches,
        optimizer=cell.optimizer,
        resources=resources,
        fingerprint=fingerprint(params.model_dump(mode="json", by_alias=True), source),
        seed=params.seed,
        outputs=outputs,
        tokenizer_dir=paths.TOKENIZER,
        card=card,
        batch_keys=(("pretrain.batch_tokens", params.batch_tokens), ("pretrain.seq_len", params.seq_len)),
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
    run(cell, Params(**{**values, "world": worlds[0]}), study.resources)
