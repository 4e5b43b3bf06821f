"""Paper-style labels for a study's models and where each came from.

Pretrain cells are roots; an adapt cell names its source in ``from`` (``pretrain/<cell>`` or
``adapt/<name>``), read off the study's lineage graph (:mod:`pretrainlab.config.lineage`). Labels follow Wang et al. 2022: ``CD:FLM`` is a causal decoder trained with the
full language-modelling objective; ``CD:FLM → ND:MLM`` is that model adapted to a non-causal decoder
with span corruption (which the paper calls MLM).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pretrainlab.config.lineage import ModelNode, graph_errors
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


def study_models(graph: Mapping[str, ModelNode]) -> dict[str, StudyModel]:
    """Every pretrain cell and adaptation of the lineage graph by ref, in the graph's order (pretrain
    cells first); a dangling source or a cycle is a :class:`UserInputError` naming its key."""
    if errors := graph_errors(graph):
        raise UserInputError(errors[0])
    models: dict[str, StudyModel] = {}

    def resolve(node: ModelNode) -> StudyModel:
        if node.ref in models:
            return models[node.ref]
        own = config_label(node.arch, str(node.objective))
        if node.parent is None:
            label = own
        else:
            label = f"{resolve(graph[node.parent]).label} → {own}" + (
                " (continued)" if node.continued else ""
            )
        models[node.ref] = StudyModel(
            node.ref, node.arch, str(node.objective), label, node.size, node.parent, node.continued
        )
        return models[node.ref]

    trained = [node for node in graph.values() if node.stage in ("pretrain", "adapt")]
    for node in trained:
        resolve(node)
    return {node.ref: models[node.ref] for node in trained}
