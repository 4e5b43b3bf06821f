"""Cross-field rules of a study: each returns ``"key.path: message"`` lines, never raises.

The shape of each section is checked by :mod:`pretrainlab.config.schema`; what needs two sections at
once (a cell's model size exists, an objective fits its architecture, a budget buys one step, every
evaluated model is defined) is checked here, so ``pretrainlab validate`` reports all errors together.
"""

from __future__ import annotations

from pathlib import Path

from pretrainlab.config.lineage import lineage_errors
from pretrainlab.config.schema import Study


def _model_sizes(params: Study) -> list[str]:
    errors = []
    for name, cell in params.pretrain.cells.items():
        if cell.model not in params.models:
            defined = ", ".join(sorted(params.models))
            errors.append(
                f"pretrain.cells.{name}.model: unknown model size {cell.model!r} (defined: {defined})"
            )
    return errors


def _objective_options(params: Study) -> list[str]:
    from pydantic import ValidationError

    from pretrainlab.config.load import key_path
    from pretrainlab.config.schema import OPTIONS_BY_OBJECTIVE

    errors = []
    cells = [(f"pretrain.cells.{n}", c) for n, c in params.pretrain.cells.items()]
    cells += [(f"adapt.{n}", c) for n, c in params.adapt.items()]
    for prefix, cell in cells:
        try:
            OPTIONS_BY_OBJECTIVE[cell.objective].model_validate(cell.options)
        except ValidationError as error:
            errors += [f"{prefix}.options.{key_path(e['loc'])}: {e['msg']}" for e in error.errors()]
    return errors


def _evaluated_models(params: Study) -> list[str]:
    known = {
        "pretrain": set(params.pretrain.cells),
        "adapt": set(params.adapt),
        "finetune": set(params.finetune),
    }
    errors = []
    for name, kind in params.evaluate.models.items():
        if name not in known.get(kind, set()):
            errors.append(f"evaluate.models.{name}: no {kind} model named {name!r} is defined")
    # The report sets each finetuned model beside its source: both must be evaluated.
    for name, cell in params.finetune.items():
        for kind, model in (("finetune", name), *[tuple(cell.from_.split("/", 1))]):
            if params.evaluate.models.get(model) != kind:
                errors.append(
                    f"evaluate.models: add `{model}: {kind}` (the report compares finetune.{name} with its source)"
                )
    return errors


def _replicates(params: Study) -> list[str]:
    from pretrainlab.config.replicates import replicate_name

    if params.seed in params.replicate_seeds:
        return [f"study.seeds: {params.seed} is the study's own seed (the cells already run under it)"]
    names = {*params.pretrain.cells, *params.adapt, *params.finetune}
    clashes = [replicate_name(c, s) for c in params.pretrain.cells for s in params.replicate_seeds]
    errors = [
        f"study.seeds: replicate {n!r} has the name of a model already defined" for n in clashes if n in names
    ]
    if (
        params.replicate_seeds
    ):  # every replicate is evaluated, and the report pools it with its cell's own run
        errors += [
            f"evaluate.models: add `{cell}: pretrain` (study.seeds replicates and evaluates every pretrain cell; "
            "the report pools the replicates with the cell's own evaluation)"
            for cell in params.pretrain.cells
            if params.evaluate.models.get(cell) != "pretrain"
        ]
    return errors


def _evaluate_tasks(params: Study) -> list[str]:
    """Task names are checked here, not minutes into the evaluate stage (synthworld's names: no torch)."""
    from pretrainlab.synthworld import TASK_FAMILIES

    tasks = params.evaluate.tasks
    if tasks == "all":
        return []
    if not tasks:
        return ["evaluate.tasks: empty; list task names or write `all`"]
    unknown = [name for name in tasks if name not in TASK_FAMILIES]
    if unknown:
        return [
            f"evaluate.tasks: unknown task(s) {', '.join(unknown)}; valid names: {', '.join(sorted(TASK_FAMILIES))}"
        ]
    return []


def _finetune_sources(params: Study) -> list[str]:
    """Held-out discipline: no finetune source in a cluster (or of a dataset) the evaluation holds out."""
    from pretrainlab.finetuning.clusters import source_errors

    errors = []
    for name, cell in params.finetune.items():
        if cell.sources is not None:
            errors += source_errors(f"finetune.{name}.sources", cell.sources)
    return errors


def _inside_outputs(path: Path, base_dir: Path) -> Path | None:
    """The pipeline output (``data/tokenizer``, ``data/tokens``, ``data/models``) ``path`` lies in, if any:
    the tokenize stage cannot read what it writes itself, or what is trained from its output."""
    from pretrainlab import paths

    resolved = (base_dir / path).resolve()
    for output in (paths.TOKENIZER, paths.TOKENS, paths.MODELS):
        if resolved.is_relative_to((base_dir / output).resolve()):
            return output
    return None


def _tokenizer(params: Study, base_dir: Path) -> list[str]:
    from pretrainlab.tokenization.specials import reserved_tokens

    tok = params.tokenizer
    if tok.pretrained is not None and (output := _inside_outputs(Path(tok.pretrained), base_dir)):
        return [
            f"tokenizer.pretrained: {tok.pretrained!r} is inside {output}/, which the pipeline writes "
            "(DVC deletes it before the tokenize stage runs); copy the tokenizer elsewhere and point there"
        ]
    if tok.pretrained is not None and not (base_dir / tok.pretrained).is_dir():
        return [f"tokenizer.pretrained: directory {tok.pretrained!r} does not exist"]
    floor = len(reserved_tokens(tok.sentinels)) + 256  # the specials, then one symbol per byte
    if tok.vocab_size is not None and tok.vocab_size <= floor:
        return [
            f"tokenizer.vocab_size: {tok.vocab_size} cannot hold the {floor - 256} reserved specials "
            f"(tokenizer.sentinels={tok.sentinels}) plus 256 byte symbols; use more than {floor}"
        ]
    return []


def _cells(params: Study, base_dir: Path) -> list[str]:
    # Imported here: objectives and model sizing pull in numpy/torch, the schema checks above do not.
    from pretrainlab.config.budget_checks import adapt_plan_errors, cell_plan_errors, study_eval_at_errors

    if _tokenizer(params, base_dir) or _objective_options(params):
        return []  # cell checks need a usable tokenizer layout and valid options
    errors = []
    for name, cell in params.pretrain.cells.items():
        if cell.model not in params.models:
            continue
        errors += [f"pretrain.cells.{name}.{msg}" for msg in cell_plan_errors(params, name, base_dir)]
    if lineage_errors(params) or _model_sizes(params):
        return errors
    for name in params.adapt:
        errors += [f"adapt.{name}.{msg}" for msg in adapt_plan_errors(params, name, base_dir)]
    return errors + study_eval_at_errors(params, base_dir)


def cross_field_errors(params: Study, base_dir: Path = Path(".")) -> list[str]:
    """Every cross-field problem in ``params`` (an empty list means the study is consistent)."""
    return (
        _model_sizes(params)
        + _objective_options(params)
        + _evaluated_models(params)
        + _evaluate_tasks(params)
        + _finetune_sources(params)
        + lineage_errors(params)
        + _replicates(params)
        + _tokenizer(params, base_dir)
        + _cells(params, base_dir)
    )
