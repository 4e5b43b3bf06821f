"""evaluate stage (``evaluate@<model>``): validation loss, bits per byte and zero-shot rank
classification on every synthworld task -> ``metrics/evaluate/<model>.json`` and the per-item results
``metrics/evaluate/<model>.items.parquet``, published together (the json last marks a finished run).
Each snapshot the model's training kept (``eval_at``) is evaluated the same way, and with the final
model makes its learning curve (``<model>.curve.json``, :mod:`pretrainlab.evaluation.learning_curve`).

The prompt format is the one recorded in the model's card by the stage that trained it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pretrainlab import paths
from pretrainlab.config.fingerprint import fingerprint
from pretrainlab.config.keys import read
from pretrainlab.config.schema import EvaluateConfig, LmEvalConfig, Strict, Study, SynthworldSource
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.learning_curve import (
    FINAL,
    LearningCurve,
    curve_item_table,
    curve_point,
    publish_with_curve,
)
from pretrainlab.evaluation.lm_eval_bridge import BACKENDS as LM_EVAL_ARCHS
from pretrainlab.evaluation.lm_eval_bridge import check_lm_eval, evaluate_lm_eval, load_tasks
from pretrainlab.evaluation.prompt_formats import card_prompt_format
from pretrainlab.evaluation.suite import Evaluation, evaluate_model
from pretrainlab.metrics_contract import EvaluationMetrics, TrainingMetrics, read_metrics
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tracking.run import TrackedRun
from pretrainlab.training.cell import read_card
from pretrainlab.training.device import resolve_runtime
from pretrainlab.training.snapshots import published_snapshots
from stages import check_environment


class Params(Strict):
    """One field per key of :func:`study_keys`: the evaluate settings, the world, the window length."""

    tasks: list[str] | Literal["all"]
    items_per_task: int
    held_out_items_per_task: int
    bootstrap_samples: int
    val_tokens: int
    seed: int  # evaluate.seed
    lm_eval: LmEvalConfig | None
    world: SynthworldSource  # the world whose tasks are asked (the study's synthworld source)
    seq_len: int

    @property
    def evaluate(self) -> EvaluateConfig:
        """The suite's settings. Which models a study evaluates (``evaluate.models``) does not change one
        model's numbers, so it is not read: adding a model leaves the other evaluations up to date."""
        return EvaluateConfig(models={}, **self.model_dump(exclude={"world", "seq_len"}))


def run(name: str, kind: str, params: Params, device: str, tracked: TrackedRun | None = None) -> None:
    model_dir = paths.model_dir(kind, name)
    if not (model_dir / "config.json").is_file():
        raise UserInputError(f"{model_dir}: model not found (run `dvc repro {kind}@{name}` first)")
    card = read_card(model_dir)
    fmt = card_prompt_format(model_dir, card)  # a card without it: exit 2 before any work
    lm_eval = params.evaluate.lm_eval
    use_lm_eval = lm_eval is not None and card["arch"] in LM_EVAL_ARCHS  # a BERT-style encoder is skipped
    lm_eval_tasks = None
    if use_lm_eval:  # bad lm-eval input or a missing dataset: exit 2 before minutes of evaluation, no write
        check_lm_eval(lm_eval.tasks, _path(lm_eval.include_path), arch=card["arch"])
        lm_eval_tasks = load_tasks(
            lm_eval.tasks,
            _path(lm_eval.include_path),
            arch=card["arch"],
            format_name=fmt,
            dataset_paths=lm_eval.dataset_paths,
        )
    rerun = f"rerun `dvc repro {kind}@{name}`"
    snapshots = published_snapshots(model_dir)
    kept = {s.point.eval_at_tokens for s in snapshots}
    if missing := [n for n in card.get("eval_at", []) if n not in kept]:
        raise UserInputError(
            f"{model_dir / 'snapshots'}: no snapshot tokens-{missing[0]}, though its training declared "
            f"eval_at {card['eval_at']}; {rerun}"
        )
    training = read_metrics(paths.metrics_file(kind, name), TrainingMetrics, f"dvc repro {kind}@{name}")
    tokenizer, specials = load_tokenizer(model_dir)
    world = {
        "entities": params.world.entities,
        "documents": params.world.documents,
        "seed": params.world.seed,
    }

    def evaluate(directory: Path) -> Evaluation:
        return evaluate_model(
            directory,
            arch=card["arch"],
            objective=card["objective"],
            prompt_format_name=fmt,
            tokenizer=tokenizer,
            specials=specials,
            tokens_dir=paths.TOKENS,
            config=params.evaluate,
            world=world,
            seq_len=params.seq_len,
            device=resolve_runtime(device, "fp32").device,
        )

    evaluation = evaluate(model_dir)
    metrics = evaluation.metrics
    if use_lm_eval:
        metrics["lm_eval"], suites = evaluate_lm_eval(
            model_dir,
            arch=card["arch"],
            tasks=list(lm_eval.tasks),
            include_path=_path(lm_eval.include_path),
            limit=lm_eval.limit,
            dataset_paths=lm_eval.dataset_paths,
            loaded=lm_eval_tasks,
            device=resolve_runtime(device, "fp32").device,
        )
        if suites:  # t0_eval / eai_eval: per dataset, median and mean over its templates
            metrics["lm_eval_suites"] = {name: suite.as_json() for name, suite in suites.items()}
    record = EvaluationMetrics.model_validate({"model": name, "kind": kind, **metrics})
    points, tables = [], []
    for snapshot in snapshots:
        at = evaluate(snapshot.folder)
        scored = EvaluationMetrics.model_validate({**at.metrics, "model": name, "kind": kind})
        p = snapshot.point
        points.append(curve_point(snapshot.folder.name, p.eval_at_tokens, p.step, p.tokens, p.flops, scored))
        tables.append(at.items)
    points.append(curve_point(FINAL, None, training.steps, training.tokens, training.flops, record))
    tables.append(evaluation.items)
    curve = LearningCurve(model=name, kind=kind, points=points)
    publish_with_curve(
        paths.metrics_file("evaluate", name),
        record,
        evaluation.items,
        curve,
        curve_item_table(name, points, tables),
    )
    if tracked is not None:  # after publishing: a tracker never holds the results back
        with tracked.start("evaluate", name, fingerprint(params, card)) as tracker:
            for point in points:  # each evaluated model at the training step it was taken
                tracker.log_metrics(
                    point.step, point.model_dump(exclude={"step", "snapshot", "eval_at_tokens"})
                )
            tracker.log_summary(record.as_json())


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def study_keys(study: Study, cell: str | None, seed: int | None = None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    settings = {name: f"evaluate.{name}" for name in EvaluateConfig.model_fields if name != "models"}
    return {**settings, "world": "corpus.sources", "seq_len": "pretrain.seq_len"}


def main(study: Study, cell: str | None, seed: int | None = None) -> None:
    """Evaluate the model ``cell`` names in ``evaluate.models``, or the replicate of pretrain cell ``cell``
    under ``seed`` (one of ``study.seeds``)."""
    check_environment()  # before anything runs: a launcher's leftovers end here
    from pretrainlab.config.replicates import replicate_name

    if seed is None:
        kind = study.evaluate.models.get(str(cell))
        name = str(cell)
        if kind is None:
            raise UserInputError(
                f"evaluate.models: no model named {cell!r} (listed: {', '.join(study.evaluate.models)})"
            )
    else:
        if cell not in study.pretrain.cells:
            raise UserInputError(
                f"--cell {cell!r} with --seed: no pretrain cell of that name "
                f"(defined: {', '.join(study.pretrain.cells)})"
            )
        kind, name = "pretrain", replicate_name(str(cell), seed)
    keys = study_keys(study, cell, seed)
    values = read(study, keys)
    worlds = [s for s in values["world"] if isinstance(s, SynthworldSource)]
    values["world"] = worlds[0] if worlds else SynthworldSource(kind="synthworld")
    params = Params(**values)
    run(name, kind, params, study.resources.device, TrackedRun.of(study, params, keys))
