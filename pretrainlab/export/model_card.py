"""The ``README.md`` model card of an exported model, generated from what the study recorded.

Every fact comes from a file a stage wrote: the model's card (``pretrainlab.json``: architecture,
objective, prompt format, the model it continues), ``config.json`` (its shape), the training metrics
of it and of each ancestor (``metrics/<stage>/<name>.json``: tokens, FLOPs, parameters) and, when the
model was evaluated, ``metrics/evaluate/<name>.json``. The lineage follows each card's ``from`` back
to the pretrain cell it descends from — the edges of the study's model graph
(:mod:`pretrainlab.config.lineage`) as they were actually trained. The usage snippet is the stock
transformers code for the architecture: for a non-causal decoder it builds the prefix mask (README:
"Using a non-causal (ND) checkpoint in stock transformers").

Sections, in order: :data:`SECTIONS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pretrainlab import paths
from pretrainlab.errors import UserInputError
from pretrainlab.metrics_contract import EvaluationMetrics, TrainingMetrics, read_metrics
from pretrainlab.models.architectures import architecture
from pretrainlab.training.cell import read_card

SECTIONS = (
    "Architecture",
    "Objective",
    "Lineage",
    "Training tokens and FLOPs",
    "Evaluation",
    "How to use",
    "Provenance",
)
OBJECTIVES = {  # what each objective trains (README: "The study matrix")
    "full_lm": "next-token prediction at every position (full language modeling)",
    "prefix_lm": "prefix language modeling: a random split, loss on the part after it",
    "span_corruption": "T5 span corruption: masked spans replaced by sentinels, the spans as targets",
    "mlm": "BERT masked language modeling (15% of tokens, 80/10/10)",
    "ul2": "the UL2 mixture of R/S/X denoisers with mode tokens",
}
_SHAPE = {  # config.json key -> row label
    "hidden_size": "d_model",
    "num_hidden_layers": "layers",
    "num_attention_heads": "attention heads",
    "intermediate_size": "d_ff",
    "vocab_size": "vocabulary",
}


@dataclass(frozen=True)
class LineageStep:
    ref: str  # "pretrain/cd-flm"
    card: dict[str, Any]
    training: TrainingMetrics | None  # None: no metrics file (not trained by this project's stages)

    @property
    def kind(self) -> str:
        return self.ref.split("/", 1)[0]

    def what(self) -> str:
        if self.kind == "finetune":
            examples = self.card.get("mixture_examples")
            shown = f" on {examples:,} examples" if isinstance(examples, int) else ""
            return f"multitask prompted finetuning{shown} (targets-only loss)"
        if self.kind == "adapt":
            return f"adapted to {self.card['arch']} with {self.card['objective']}"
        return f"pretrained as {self.card['arch']} with {self.card['objective']}"


def lineage(ref: str, root: Path) -> list[LineageStep]:
    """The model ``ref`` and its ancestors, pretraining first (each card's ``from``)."""
    steps: list[LineageStep] = []
    seen: set[str] = set()
    current: str | None = ref
    while current is not None:
        if current in seen:
            raise UserInputError(f"{root / paths.MODELS / ref}: its cards' `from` form a cycle at {current}")
        seen.add(current)
        model_dir = root / paths.MODELS / current
        if not model_dir.is_dir():
            raise UserInputError(
                f"{model_dir}: the model {steps[-1].ref} continues is not on disk "
                f"(run `dvc repro {current.replace('/', '@')}`)"
            )
        card = read_card(model_dir)
        kind, name = current.split("/", 1)
        metrics = root / paths.metrics_file(kind, name)
        training = (
            read_metrics(metrics, TrainingMetrics, f"dvc repro {kind}@{name}") if metrics.is_file() else None
        )
        steps.append(LineageStep(current, card, training))
        parent = card.get("from")
        current = parent if isinstance(parent, str) else None
    return steps[::-1]


def evaluation(ref: str, root: Path) -> EvaluationMetrics | None:
    """``metrics/evaluate/<name>.json`` of the model, or None when it was not evaluated."""
    kind, name = ref.split("/", 1)
    path = root / paths.metrics_file("evaluate", name)
    if not path.is_file():
        return None
    record = read_metrics(path, EvaluationMetrics, f"dvc repro evaluate@{name}")
    return record if record.kind == kind else None  # a same-named model of another stage


def render(ref: str, model_dir: Path, root: Path, location: str) -> str:
    """The card's Markdown; ``location`` is what the usage snippet loads (a Hub repo id or a path)."""
    steps = lineage(ref, root)
    model = steps[-1]
    card = model.card
    spec = architecture(card["arch"])
    config = json.loads((model_dir / "config.json").read_text())
    evaluated = evaluation(ref, root)
    parts = [
        _front_matter(card, spec.auto_class_name),
        f"# {card['name']}\n\n{spec.short} ({card['arch']}), {model.what()}; trained with pretrainlab, "
        "a replication of Wang et al. (2022), *What Language Model Architecture and Pretraining "
        "Objective Work Best for Zero-Shot Generalization?*\n",
        _architecture(spec, config, model.training),
        _objective(card, steps),
        _lineage(steps),
        _compute(steps),
        _evaluation(evaluated, ref),
        _usage(spec, location),
        _provenance(card),
    ]
    return "\n".join(parts)


def _front_matter(card: dict[str, Any], auto_class: str) -> str:
    pipeline = "text2text-generation" if auto_class == "AutoModelForSeq2SeqLM" else "text-generation"
    tags = ["pretrainlab", card["arch"], str(card["objective"])]
    lines = ["---", "library_name: transformers", f"pipeline_tag: {pipeline}", "tags:"]
    return "\n".join([*lines, *(f"- {tag}" for tag in tags), "---", ""])


def _table(rows: list[tuple[str, str]], header: tuple[str, str] = ("", "")) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    return "\n".join([*lines, *(f"| {key} | {value} |" for key, value in rows)])


def _architecture(spec: Any, config: dict[str, Any], training: TrainingMetrics | None) -> str:
    rows = [
        ("architecture", f"{spec.name} ({spec.short})"),
        ("transformers class", f"`{spec.model_class_name}` (loads with `{spec.auto_class_name}`)"),
    ]
    if training is not None:
        rows.append(
            ("parameters", f"{training.parameters:,} ({training.non_embedding_parameters:,} non-embedding)")
        )
    stacks = (
        {"": config}
        if "encoder" not in config
        else {"encoder ": config["encoder"], "decoder ": config["decoder"]}
    )
    for prefix, stack in stacks.items():
        rows += [(prefix + label, f"{stack[key]:,}") for key, label in _SHAPE.items() if key in stack]
    return "## Architecture\n\n" + _table(rows) + "\n"


def _objective(card: dict[str, Any], steps: list[LineageStep]) -> str:
    lines = ["## Objective", ""]
    for step in steps:
        objective = str(step.card["objective"])
        meaning = OBJECTIVES.get(objective, objective)
        label = "multitask prompted finetuning" if step.kind == "finetune" else f"`{objective}`"
        lines.append(f"- {step.ref}: {label}" + ("" if step.kind == "finetune" else f" — {meaning}"))
    lines += [
        "",
        f"Prompts are scored in the `{card.get('prompt_format', 'plain')}` format its last training "
        f"taught it; sequence length {card['seq_len']}.",
        "",
    ]
    return "\n".join(lines)


def _lineage(steps: list[LineageStep]) -> str:
    lines = ["## Lineage", ""]
    for i, step in enumerate(steps, start=1):
        source = f" (from {step.card['from']})" if step.card.get("from") else ""
        lines.append(f"{i}. `{step.ref}`{source}: {step.what()}")
    return "\n".join([*lines, ""])


def _compute(steps: list[LineageStep]) -> str:
    lines = ["## Training tokens and FLOPs", "", "| stage | tokens | FLOPs | steps |", "|---|---|---|---|"]
    tokens = flops = 0.0
    for step in steps:
        t = step.training
        if t is None:
            lines.append(f"| `{step.ref}` | not recorded | not recorded | |")
            continue
        trained = t.tokens + t.frozen_warmup_tokens
        tokens, flops = tokens + trained, flops + t.flops
        lines.append(f"| `{step.ref}` | {trained:,} | {t.flops:.3g} | {t.steps + t.frozen_warmup_steps:,} |")
    lines.append(f"| total | {int(tokens):,} | {flops:.3g} | |")
    return "\n".join([*lines, ""])


def _evaluation(evaluated: EvaluationMetrics | None, ref: str) -> str:
    head = "## Evaluation\n\n"
    if evaluated is None:
        stage_name = ref.split("/", 1)[1]
        return head + f"Not evaluated yet (`dvc repro evaluate@{stage_name}` writes the results).\n"
    rows = []
    if evaluated.val_loss is not None:
        rows.append(("validation loss", f"{evaluated.val_loss:.4f}"))
    if evaluated.bits_per_byte is not None:
        rows.append(("bits per byte", f"{evaluated.bits_per_byte:.4f}"))
    for label, mean in (("held-out tasks", evaluated.held_out), ("held-in tasks", evaluated.held_in)):
        if mean is not None:
            low, high = mean.ci95
            rows.append(
                (
                    label,
                    f"{100 * mean.accuracy:.1f}% [{100 * low:.1f}–{100 * high:.1f}] (chance {100 * mean.random_baseline:.1f}%)",
                )
            )
    text = head + "Zero-shot rank classification (95% bootstrap intervals):\n\n" + _table(rows) + "\n"
    if evaluated.tasks:
        lines = ["", "| task | cluster | accuracy | chance | items |", "|---|---|---|---|---|"]
        for name, task in evaluated.tasks.items():
            held = " (held out)" if task.held_out else ""
            lines.append(
                f"| {name} | {task.cluster}{held} | {100 * task.accuracy:.1f}% | {100 * task.random_baseline:.1f}% | {task.n} |"
            )
        text += "\n".join(lines) + "\n"
    suites = evaluated.lm_eval_suites or {}
    for suite, result in suites.items():  # T0's way: per dataset the median (and mean) over its templates
        average = "—" if result.average is None else f"{100 * result.average:.1f}%"
        lines = ["", f"{suite} (average of the datasets' medians: {average}):", ""]
        lines += ["| dataset | median | mean | templates |", "|---|---|---|---|"]
        for name, dataset in result.datasets.items():
            lines.append(
                f"| {name} | {100 * dataset.median:.1f}% | {100 * dataset.mean:.1f}% | {len(dataset.templates)} |"
            )
        text += "\n".join(lines) + "\n"
    in_suites = {task for result in suites.values() for d in result.datasets.values() for task in d.templates}
    other_tasks = {task: m for task, m in (evaluated.lm_eval or {}).items() if task not in in_suites}
    if other_tasks:
        lines = ["", "lm-evaluation-harness:", "", "| task | metric | value |", "|---|---|---|"]
        for harness_task, metrics in other_tasks.items():
            lines += [f"| {harness_task} | {key} | {value} |" for key, value in metrics.items()]
        text += "\n".join(lines) + "\n"
    return text


def _usage(spec: Any, location: str) -> str:
    auto = spec.auto_class_name
    head = f"## How to use\n\n```python\nimport torch\nfrom transformers import {auto}, AutoTokenizer\n\n"
    load = (
        f'model = {auto}.from_pretrained("{location}")\ntok = AutoTokenizer.from_pretrained("{location}")\n'
    )
    if spec.is_encoder_decoder:
        body = (
            'ids = tok("Question: Where was Mira born?\\nAnswer:", return_tensors="pt").input_ids\n'
            "start = torch.tensor([[tok.bos_token_id]])  # the decoder starts from <s>\n"
            "logits = model(input_ids=ids, decoder_input_ids=start).logits\n"
        )
        return head + load + body + "```\n"
    if spec.is_decoder and spec.bidirectional_prefix:
        body = (
            'ids = tok("Question: Where was Mira born?\\nAnswer: Velmora", return_tensors="pt").input_ids\n'
            "T, prefix = ids.shape[1], 9  # the first 9 tokens attend bidirectionally\n"
            "q, k = torch.arange(T)[:, None], torch.arange(T)[None, :]\n"
            "mask = torch.where((k <= q) | (k < prefix), 0.0, torch.finfo(torch.float32).min)[None, None]\n"
            "logits = model(ids, attention_mask=mask).logits\n"
        )
        note = (
            "\nA non-causal decoder: the prompt (prefix) attends both ways, the rest causally. Pass the "
            "prefix mask as an *additive float* 4-D mask (a boolean 4-D mask leaks future tokens under "
            "eager attention).\n"
        )
        return head + load + body + "```\n" + note
    body = 'ids = tok("Question: Where was Mira born?\\nAnswer:", return_tensors="pt").input_ids\n'
    return head + load + body + "logits = model(ids).logits\n```\n"


def _provenance(card: dict[str, Any]) -> str:
    environment = card.get("environment") or {}
    rows = [
        ("fingerprint (params and data)", f"`{card.get('fingerprint')}`"),
        ("tokenizer sha256", f"`{card.get('tokenizer_sha256')}`"),
        ("torch", str(environment.get("torch"))),
        ("lock sha256", f"`{environment.get('lock_sha256')}`"),
    ]
    return (
        "## Provenance\n\n"
        + _table(rows)
        + "\n\n`pretrainlab.json` holds the project's own record of the model.\n"
    )
