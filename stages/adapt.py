"""adapt stage (``adapt@<name>``): continue a pretrained (or adapted) model under another
architecture, objective or corpus — LM-A, NC-A, decoder -> encoder-decoder, continued pretraining."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import torch

from pretrainlab import paths
from pretrainlab.adaptation.decoder_to_encoder_decoder import is_cross_attention
from pretrainlab.adaptation.freeze import trainable_only
from pretrainlab.adaptation.start import initial_model
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read, size_key
from pretrainlab.config.schema import AdaptCell, CorpusConfig, CorpusFilters, ModelSize, Strict, Study
from pretrainlab.corpus.build import build_corpus
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.tokenization.encode import encode_corpus
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.training.batches import cell_batches
from pretrainlab.training.cell import CellOutputs, ModelCard, source_model
from pretrainlab.training.job import FrozenWarmup, TrainingJob, run_job
from pretrainlab.training.plan import plan_cell
from pretrainlab.training.snapshots import snapshot_points
from pretrainlab.training.stream_fit import require_windows
from stages import check_environment


class Params(Strict):
    """Exactly the keys dvc.yaml lists for ``adapt@<name>``."""

    seed: int
    seq_len: int
    batch_tokens: int
    eval_tokens: int
    cell: AdaptCell  # with its own optimizer (never pretrain.optimizer)
    size: ModelSize  # of the source model
    filters: CorpusFilters  # corpus.filters and corpus.val_fraction: for a continued-pretraining corpus
    val_fraction: float


def tokens_dir(params: Params, scratch: Path) -> Path:
    """Where the cell's token streams are: the study's, or the continued-pretraining corpus encoded with the same tokenizer."""
    if params.cell.sources is None:
        return paths.TOKENS
    corpus = CorpusConfig(
        sources=params.cell.sources, filters=params.filters, val_fraction=params.val_fraction
    )
    scratch = scratch / fingerprint(corpus, {"seed": params.seed})[:16]  # stale data never reused
    if not (scratch / "tokens" / "meta.json").is_file():
        build_corpus(corpus, params.seed, scratch / "corpus")
        encode_corpus(scratch / "corpus", paths.TOKENIZER, scratch / "tokens")
    return scratch / "tokens"


def prepare(name: str, params: Params) -> TrainingJob:
    """The job of ``adapt@<name>``: the source model carried into the target architecture, trained on the
    target objective (after a frozen warm-up of random cross-attention, when the cell asks for one)."""
    cell = params.cell
    source_dir, source = source_model(cell.from_)
    _, specials = load_tokenizer(paths.TOKENIZER)
    outputs = CellOutputs.of("adapt", name)
    tokens = tokens_dir(params, outputs.checkpoints / "data")
    train, val = TokenStream.open(tokens, "train"), TokenStream.open(tokens, "val")
    if source.get("tokenizer_sha256") != train.meta["tokenizer_sha256"]:
        raise UserInputError(
            f"adapt.{name}.from: {source_dir} was trained with another tokenizer than data/tokenizer"
        )
    plan = plan_cell(cell, params.size, specials, seq_len=params.seq_len, batch_tokens=params.batch_tokens)
    require_windows(tokens, [train, val], plan.window, params.seq_len)
    # The same validation batches as a from-scratch cell of the target arch/objective: curves compare.
    batches, val_batches = cell_batches(
        cell, specials, plan, train.tokens, val.tokens, eval_tokens=params.eval_tokens, seed=params.seed
    )
    model = initial_model(
        source_dir,
        source["arch"],
        cell.arch,
        cross_attention=cell.cross_attention,
        seed=params.seed,
        vocab_size=specials.vocab_size,
    )
    warmup = plan.frozen_warmup_steps
    return TrainingJob(
        model=model,
        plan=plan,
        batches=batches,
        val_batches=val_batches,
        optimizer=cell.optimizer,  # its own (never pretrain.optimizer), the warm-up's too
        seed=params.seed,
        fingerprint=fingerprint(params.model_dump(mode="json", by_alias=True), train.meta),
        card=ModelCard(
            name,
            "adapt",
            cell.arch,
            cell.objective,
            prompt_format_name(cell.objective),
            params.seq_len,
            train.meta["tokenizer_sha256"],
            source=cell.from_,
        ),
        outputs=outputs,
        batch_keys=(("pretrain.batch_tokens", params.batch_tokens), ("pretrain.seq_len", params.seq_len)),
        warmup=FrozenWarmup(warmup, freeze_all_but_cross_attention) if warmup else None,
        eval_at=snapshot_points(plan, cell.eval_at.tokens),  # checked by validate, warm-up included
    )


def freeze_all_but_cross_attention(model: torch.nn.Module) -> AbstractContextManager[object]:
    """The warm-up of random cross-attention trains only it."""
    return trainable_only(model, is_cross_attention)


def main(study: Study, cell: str | None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    if cell not in study.adapt:
        raise UserInputError(
            f"adapt: no adaptation named {cell!r} (defined: {', '.join(study.adapt) or 'none'})"
        )
    keys = study_keys(study, cell)
    params = Params(**read(study, keys))
    run_job(prepare(cell, params), study.resources, TrackedRun.of(study, params, keys))


def study_keys(study: Study, cell: str | None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    return {
        "seed": "seed",
        "seq_len": "pretrain.seq_len",
        "batch_tokens": "pretrain.batch_tokens",
        "eval_tokens": "pretrain.eval_tokens",
        "cell": f"adapt.{cell}",
        "size": size_key(study, f"adapt/{cell}"),  # the source model's, set by its pretrain cell
        "filters": "corpus.filters",
        "val_fraction": "corpus.val_fraction",
    }
