"""pretrain stage (``pretrain@<cell>``): train one grid cell from scratch on the token stream."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read
from pretrainlab.config.replicates import replicate_name
from pretrainlab.config.schema import (
    EvalAt,
    ModelSize,
    OptimizerConfig,
    PretrainCell,
    ResourcesConfig,
    Strict,
    Study,
)
from pretrainlab.evaluation.prompt_formats import prompt_format_name
from pretrainlab.models.build import build_model
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.training.batches import cell_batches
from pretrainlab.training.cell import CellOutputs, ModelCard
from pretrainlab.training.device import attention_backend, resolve_runtime
from pretrainlab.training.job import TrainingJob, run_job
from pretrainlab.training.plan import plan_cell
from pretrainlab.training.snapshots import snapshot_points
from pretrainlab.training.stream_fit import require_windows
from stages import check_environment


class Params(Strict):
    """Exactly the keys dvc.yaml lists for ``pretrain@<cell>``."""

    seed: int
    seq_len: int
    batch_tokens: int
    eval_tokens: int
    optimizer: OptimizerConfig
    cell: PretrainCell
    size: ModelSize
    eval_at: EvalAt  # the snapshots every cell keeps


def prepare(name: str, params: Params, resources: ResourcesConfig) -> TrainingJob:
    """The job of ``pretrain@<name>``: a freshly initialised model on the study's token stream."""
    _, specials = load_tokenizer(paths.TOKENIZER)
    train, val = TokenStream.open(paths.TOKENS, "train"), TokenStream.open(paths.TOKENS, "val")
    cell, seq_len = params.cell, params.seq_len
    plan = plan_cell(
        cell,
        params.size,
        specials,
        seq_len=seq_len,
        batch_tokens=params.batch_tokens,
        optimizer=params.optimizer,
    )
    require_windows(paths.TOKENS, [train, val], plan.window, seq_len)
    batches, val_batches = cell_batches(
        cell, specials, plan, train.tokens, val.tokens, eval_tokens=params.eval_tokens, seed=params.seed
    )
    device = resolve_runtime(resources.device, resources.precision).device
    model = build_model(
        cell.arch,
        params.size,
        specials,
        seq_len=seq_len,
        seed=params.seed,
        attn_implementation=attention_backend(device),
    )
    prompt_format = prompt_format_name(cell.objective)
    card = ModelCard(
        name, "pretrain", cell.arch, cell.objective, prompt_format, seq_len, train.meta["tokenizer_sha256"]
    )
    return TrainingJob(
        model=model,
        plan=plan,
        batches=batches,
        val_batches=val_batches,
        optimizer=params.optimizer,
        seed=params.seed,
        fingerprint=fingerprint(params, train.meta),
        card=card,
        outputs=CellOutputs.of("pretrain", name),
        batch_keys=(("pretrain.batch_tokens", params.batch_tokens), ("pretrain.seq_len", seq_len)),
        eval_at=snapshot_points(plan, params.eval_at.tokens),
    )


def study_keys(study: Study, cell: str | None, seed: int | None = None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys.
    A replicate's seed is not a key: it comes from ``--seed`` (the stage's command)."""
    keys = {
        "seq_len": "pretrain.seq_len",
        "batch_tokens": "pretrain.batch_tokens",
        "eval_tokens": "pretrain.eval_tokens",
        "optimizer": "pretrain.optimizer",
        "cell": f"pretrain.cells.{cell}",
        "size": f"models.{study.pretrain.cells[str(cell)].model}",
        "eval_at": "pretrain.eval_at",
    }
    return keys if seed is not None else {"seed": "seed", **keys}


def main(study: Study, cell: str | None, seed: int | None = None) -> None:
    """Train ``cell``, or its replicate under ``seed`` (one of ``study.seeds``, named ``<cell>-seed<N>``)."""
    check_environment()  # before anything runs: a launcher's leftovers end here
    from pretrainlab.errors import UserInputError

    if cell not in study.pretrain.cells:
        raise UserInputError(
            f"pretrain.cells: no cell named {cell!r} (defined: {', '.join(study.pretrain.cells)})"
        )
    keys = study_keys(study, cell, seed)
    values = read(study, keys)
    params = Params(**values) if seed is None else Params(**values, seed=seed)
    name = cell if seed is None else replicate_name(cell, seed)
    run_job(prepare(name, params, study.resources), study.resources, TrackedRun.of(study, params, keys))
