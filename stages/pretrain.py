"""pretrain stage (``pretrain@<cell>``): train one grid cell from scratch on the token stream."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.schema import ModelSize, OptimizerConfig, PretrainCell, ResourcesConfig, Strict
from pretrainlab.config.schema import Params as Study
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.models.build import build_model
from pretrainlab.objectives.registry import get_objective
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.training.batches import ObjectiveBatches, fixed_batches
from pretrainlab.training.cell import CellOutputs, train_cell
from pretrainlab.training.data import WindowSampler
from pretrainlab.training.device import attention_backend, resolve_runtime
from pretrainlab.training.plan import plan_cell


class Params(Strict):
    """Exactly the keys dvc.yaml lists for ``pretrain@<cell>``."""

    seed: int
    seq_len: int
    batch_tokens: int
    eval_tokens: int
    optimizer: OptimizerConfig
    cell: PretrainCell
    size: ModelSize


def run(name: str, params: Params, resources: ResourcesConfig) -> None:
    _, specials = load_tokenizer(paths.TOKENIZER)
    train, val = TokenStream.open(paths.TOKENS, "train"), TokenStream.open(paths.TOKENS, "val")
    plan = plan_cell(
        params.cell, params.size, specials, seq_len=params.seq_len, batch_tokens=params.batch_tokens
    )
    objective, options = get_objective(params.cell.objective), params.cell.objective_options()
    sampler = WindowSampler(train.tokens, plan.window, plan.batch_size, params.seed)
    train_batch = ObjectiveBatches(sampler, objective, options, specials, plan, params.seed)
    val_batches = fixed_batches(
        val.tokens, objective, options, specials, plan, params.eval_tokens, params.seed + 1
    )
    device = resolve_runtime(resources.device, resources.precision).device
    model = build_model(
        params.cell.arch,
        params.size,
        specials,
        seq_len=params.seq_len,
        seed=params.seed,
        attn_implementation=attention_backend(device),
    )
    outputs = CellOutputs.of("pretrain", name)
    card = {
        "name": name,
        "kind": "pretrain",
        "arch": params.cell.arch,
        "objective": params.cell.objective,
        "prompt_format": prompt_format_name(params.cell.objective),
        "seq_len": params.seq_len,
        "tokenizer_sha256": train.meta["tokenizer_sha256"],
    }
    train_cell(
        model,
        plan,
        train_batch,
        val_batches,
        optimizer=params.optimizer,
        resources=resources,
        fingerprint=fingerprint(params, train.meta),
        seed=params.seed,
        outputs=outputs,
        tokenizer_dir=paths.TOKENIZER,
        card=card,
        batch_keys=(("pretrain.batch_tokens", params.batch_tokens), ("pretrain.seq_len", params.seq_len)),
    )


def main(study: Study, cell: str | None) -> None:
    from pretrainlab.config.replicates import split_replicate
    from pretrainlab.errors import UserInputError

    name, seed = cell, study.seed
    if cell not in study.pretrain.cells and (replicate := split_replicate(str(cell))) is not None:
        cell, seed = replicate  # a replicate of a cell under one of study.seeds
    if cell not in study.pretrain.cells:
        raise UserInputError(
            f"pretrain.cells: no cell named {cell!r} (defined: {', '.join(study.pretrain.cells)})"
        )
    spec = study.pretrain.cells[cell]
    p = study.pretrain
    params = Params(
        seed=seed,
        seq_len=p.seq_len,
        batch_tokens=p.batch_tokens,
        eval_tokens=p.eval_tokens,
        optimizer=p.optimizer,
        cell=spec,
        size=study.models[spec.model],
    )
    run(str(name), params, study.resources)
