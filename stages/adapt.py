"""adapt stage (``adapt@<name>``): continue a pretrained (or adapted) model under another
architecture, objective or corpus — LM-A, NC-A, decoder -> encoder-decoder, continued pretraining."""

from __future__ import annotations

from pathlib import Path

from pretrainlab import paths
from pretrainlab.adaptation.decoder_to_encoder_decoder import is_cross_attention
from pretrainlab.adaptation.freeze import trainable_only
from pretrainlab.adaptation.start import initial_model
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read, size_key
from pretrainlab.config.schema import (
    AdaptCell,
    CorpusConfig,
    CorpusFilters,
    ModelSize,
    ResourcesConfig,
    Strict,
)
from pretrainlab.config.schema import Params as Study
from pretrainlab.corpus.build import build_corpus
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.encode import encode_corpus
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.training.batches import ObjectiveBatches, fixed_batches
from pretrainlab.training.cell import CellOutputs, source_model, train_cell
from pretrainlab.training.checkpoint import Checkpointer
from pretrainlab.training.data import WindowSampler
from pretrainlab.training.device import resolve_runtime
from pretrainlab.training.loop import LoopConfig, Trainer
from pretrainlab.training.plan import plan_cell
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


def token_streams(params: Params, scratch: Path) -> tuple[TokenStream, TokenStream]:
    """The study's token streams, or the continued-pretraining corpus encoded with the same tokenizer."""
    if params.cell.sources is None:
        return TokenStream.open(paths.TOKENS, "train"), TokenStream.open(paths.TOKENS, "val")
    corpus = CorpusConfig(
        sources=params.cell.sources, filters=params.filters, val_fraction=params.val_fraction
    )
    scratch = scratch / fingerprint(corpus, {"seed": params.seed})[:16]  # stale data never reused
    if not (scratch / "tokens" / "meta.json").is_file():
        build_corpus(corpus, params.seed, scratch / "corpus")
        encode_corpus(scratch / "corpus", paths.TOKENIZER, scratch / "tokens")
    return TokenStream.open(scratch / "tokens", "train"), TokenStream.open(scratch / "tokens", "val")


def run(name: str, params: Params, resources: ResourcesConfig) -> None:
    cell = params.cell
    source_dir, source = source_model(cell.from_)
    _, specials = load_tokenizer(paths.TOKENIZER)
    checkpoints = paths.checkpoint_dir("adapt", name)
    train, val = token_streams(params, checkpoints / "data")
    if source.get("tokenizer_sha256") != train.meta["tokenizer_sha256"]:
        raise UserInputError(
            f"adapt.{name}.from: {source_dir} was trained with another tokenizer than data/tokenizer"
        )
    plan = plan_cell(cell, params.size, specials, seq_len=params.seq_len, batch_tokens=params.batch_tokens)
    objective, options = get_objective(cell.objective), cell.objective_options()
    sampler = WindowSampler(train.tokens, plan.window, plan.batch_size, params.seed)
    train_batch = ObjectiveBatches(sampler, objective, options, specials, plan, params.seed)
    # The same validation batches as a from-scratch cell of the target arch/objective: curves compare.
    val_batches = fixed_batches(
        val.tokens, objective, options, specials, plan, params.eval_tokens, params.seed + 1
    )
    model = initial_model(
        source_dir,
        source["arch"],
        cell.arch,
        cross_attention=cell.cross_attention,
        seed=params.seed,
        vocab_size=specials.vocab_size,
    )
    version = fingerprint(params.model_dump(mode="json", by_alias=True), train.meta)
    if plan.frozen_warmup_steps and Checkpointer(checkpoints, version).latest() is None:
        warm_up_cross_attention(model, plan, train_batch, val_batches, params, resources)
    outputs = CellOutputs.of("adapt", name)
    card = {
        "name": name,
        "kind": "adapt",
        "from": cell.from_,
        "arch": cell.arch,
        "objective": cell.objective,
        "prompt_format": prompt_format_name(cell.objective),
        "seq_len": params.seq_len,
        "tokenizer_sha256": train.meta["tokenizer_sha256"],
    }
    train_cell(
        model,
        plan,
        train_batch,
        val_batches,
        optimizer=cell.optimizer,
        resources=resources,
        fingerprint=version,
        seed=params.seed,
        outputs=outputs,
        tokenizer_dir=paths.TOKENIZER,
        card=card,
        batch_keys=(("pretrain.batch_tokens", params.batch_tokens), ("pretrain.seq_len", params.seq_len)),
    )


def warm_up_cross_attention(
    model, plan, train_batch, val_batches, params: Params, resources: ResourcesConfig
) -> None:
    """T5Gemma's recipe for random cross-attention: K steps that train only it, the rest frozen.

    The K steps come out of the adaptation's budget (``plan.frozen_warmup_steps``) and are counted in its
    tokens and FLOPs; they use the adaptation's own optimizer settings.
    """
    runtime = resolve_runtime(resources.device, resources.precision)
    warmup = plan.frozen_warmup_steps
    config = LoopConfig(
        arch=plan.arch,
        steps=warmup,
        optimizer=params.cell.optimizer,
        flops_per_step=plan.flops_per_step,
        eval_every=warmup,
        record_every=warmup,
        seed=params.seed + 7,
        log_interval=resources.log_interval,
        checkpoint_interval=resources.checkpoint_interval,
    )
    with trainable_only(model, is_cross_attention):
        Trainer(model, config, runtime, lambda step: train_batch(step), lambda: val_batches).fit()


def main(study: Study, cell: str | None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    if cell not in study.adapt:
        raise UserInputError(
            f"adapt: no adaptation named {cell!r} (defined: {', '.join(study.adapt) or 'none'})"
        )
    run(cell, Params(**read(study, study_keys(study, cell))), study.resources)


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
