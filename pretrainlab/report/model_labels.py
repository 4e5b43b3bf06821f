"""Paper-style labels for a study's models and where each came from.

Pretrain cells are roots; an adapt cell names its source in ``from`` (``pretrain/<cell>`` or
``adapt/<name>``). Labels follow Wang et al. 2022: ``CD:FLM`` is a causal decoder trained with the
full language-modelling objective; ``CD:FLM → ND:MLM`` is that model adapted to a non-causal decoder
with span corruption (which the paper calls MLM).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pretrainlab.errors import UserInputError
from pretrainlab.models.architectures import ARCHITECTURES

ARCH_SHORT = {name: spec.short for name, spec in ARCHITECTURES.items()}
OBJECTIVE_SHORT = {
    "full_lm": "FLM",
    "prefix_lm": "PLM",
    "span_corruption": "MLM",
    "mlm": "BERT-MLM",
    "ul2": "UL2",
}


def config_label(arch: str, objective: str) -> str:
    """``config_label("noncausal_decoder", "span_corruption") == "ND:MLM"``."""
    spec = ARCHITECTURES.get(arch)
    return f"{spec.short if spec else arch}:{OBJECTIVE_SHORT.get(objective, objective)}"


@dataclass(frozen=True)
class StudyModel:
    """A pretrained or adapted model of the study (finetuned models are not rows of their own)."""

    ref: str  # "pretrain/<cell>" or "adapt/<name>", as in a ``from`` key
    arch: str
    objective: str
    label: str  # "CD:FLM", "CD:FLM → ND:MLM", "CD:FLM → CD:FLM (continued)"
    size: str  # the model size of the pretrain cell it descends from
    source: str | None = None  # the ``from`` of an adaptation
    continued: bool = False  # trained on another corpus, so its validation loss uses that corpus

    @property
    def name(self) -> str:
        return self.ref.split("/", 1)[1]

    @property
    def stage(self) -> str:
        return self.ref.split("/", 1)[0]


def study_models(
    pretrain_cells: Mapping[str, Mapping], adapt_cells: Mapping[str, Mapping]
) -> dict[str, StudyModel]:
    """Every pretrain cell and adaptation by ref, pretrain cells first, each in params order."""
    models = {
        f"pretrain/{name}": StudyModel(
            f"pretrain/{name}",
            cell["arch"],
            cell["objective"],
            config_label(cell["arch"], cell["objective"]),
            str(cell.get("model", "")),
        )
        for name, cell in pretrain_cells.items()
    }

    def resolve(name: str, chain: tuple[str, ...]) -> StudyModel:
        ref = f"adapt/{name}"
        if ref in models:
            return models[ref]
        if ref in chain:
            raise UserInputError(f"adapt.{name}.from: adaptation cycle {' -> '.join([*chain, ref])}")
        cell = adapt_cells[name]
        source_ref = cell["from"]
        kind, source_name = source_ref.split("/", 1)
        if source_ref in models:
            source = models[source_ref]
        elif kind == "adapt" and source_name in adapt_cells:
            source = resolve(source_name, (*chain, ref))
        else:
            raise UserInputError(f"adapt.{name}.from: no model {source_ref!r} in this study")
        continued = bool(cell.get("sources"))
        label = f"{source.label} → {config_label(cell['arch'], cell['objective'])}"
        models[ref] = StudyModel(
            ref,
            cell["arch"],
            cell["objective"],
            label + (" (continued)" if continued else ""),
            source.size,
            source=source_ref,
            continued=continued,
        )
        return models[ref]

    for name in adapt_cells:
        resolve(name, ())
    pretrain = {ref: m for ref, m in models.items() if m.stage == "pretrain"}
    return pretrain | {f"adapt/{name}": models[f"adapt/{name}"] for name in adapt_cells}
