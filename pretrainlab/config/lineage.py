"""Where each model of a study comes from: pretrain cells are roots; adaptations and finetunes name
their source as ``<stage>/<name>`` (its path under ``data/models/``).

One graph, built here from the typed cells, serves validation (:func:`lineage_errors`), the stages
(:func:`model_size`) and the report.

>>> graph = model_graph(params)                               # doctest: +SKIP
>>> graph["adapt/nd-mlm-to-cd-flm"].parent                    # doctest: +SKIP
'pretrain/nd-mlm'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pretrainlab.config.schema import AdaptCell, Budget, FinetuneCell, ModelSize, PretrainCell, Study
from pretrainlab.models.architectures import architecture


@dataclass(frozen=True)
class ModelNode:
    ref: str  # "pretrain/cd-flm", "adapt/x", "finetune/y"
    arch: str
    objective: str | None  # None for finetuned models (multitask prompted)
    parent: str | None
    size: str = ""  # the model size of the pretrain cell it descends from ("" if that is unknown)
    continued: bool = False  # an adaptation on another corpus (its validation loss uses that corpus)
    budget: str = ""  # a pretrain cell's declared budget (:func:`budget_label`); "" otherwise

    @property
    def stage(self) -> str:
        return self.ref.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.ref.split("/", 1)[1]


def lineage_graph(
    pretrain: Mapping[str, PretrainCell],
    adapt: Mapping[str, AdaptCell],
    finetune: Mapping[str, FinetuneCell],
) -> dict[str, ModelNode]:
    """Every model by ref: pretrain cells, then adaptations, then finetunes, each in params order."""
    nodes = {
        f"pretrain/{name}": ModelNode(
            f"pretrain/{name}", cell.arch, cell.objective, None, cell.model, budget=budget_label(cell.budget)
        )
        for name, cell in pretrain.items()
    }
    for name, cell in adapt.items():
        nodes[f"adapt/{name}"] = ModelNode(
            f"adapt/{name}", cell.arch, cell.objective, cell.from_, continued=bool(cell.sources)
        )
    for name, finetuned in finetune.items():  # its source is a pretrain cell or an adaptation
        source = nodes.get(finetuned.from_)
        nodes[f"finetune/{name}"] = ModelNode(
            f"finetune/{name}", source.arch if source else "causal_decoder", None, finetuned.from_
        )
    for ref, node in nodes.items():
        try:
            root = root_of(nodes, ref)
        except (KeyError, ValueError):  # a dangling source or a cycle: graph_errors says which
            continue
        nodes[ref] = replace(node, size=nodes[root].size)
    return nodes


def budget_label(budget: Budget) -> str:
    """A cell's declared budget as one comparable label: cells with equal labels are token-matched
    (or FLOP-matched), whatever their objective makes of the last partial window.

    >>> budget_label(Budget(tokens=6.4e5)), budget_label(Budget(flops=2.74e12))
    ('640000 tokens', '2.74e+12 FLOPs')
    """
    return f"{budget.tokens:.6g} tokens" if budget.tokens is not None else f"{budget.flops:.6g} FLOPs"


def model_graph(params: Study) -> dict[str, ModelNode]:
    return lineage_graph(params.pretrain.cells, params.adapt, params.finetune)


def graph_errors(graph: Mapping[str, ModelNode]) -> list[str]:
    """A source that is not in the study, or a cycle, per model (``<stage>.<name>.from: ...``)."""
    errors = []
    for ref, node in graph.items():
        if node.parent is None:
            continue
        key = f"{node.stage}.{node.name}.from"
        if node.parent not in graph:
            errors.append(
                f"{key}: no model {node.parent!r} is defined (write pretrain/<cell> or adapt/<name>)"
            )
            continue
        try:
            root_of(graph, ref)
        except ValueError as cycle:
            errors.append(f"{key}: adaptations form a cycle: {cycle}")
        except KeyError:
            pass  # an ancestor's dangling source: reported on that ancestor
    return errors


def root_of(graph: Mapping[str, ModelNode], ref: str) -> str:
    """The pretrain cell a model descends from (``ValueError`` on a cycle or a dangling source)."""
    seen: list[str] = []
    while ref in graph and (parent := graph[ref].parent) is not None:
        if ref in seen:
            raise ValueError(" -> ".join([*seen, ref]))
        seen.append(ref)
        ref = parent
    if ref not in graph:
        raise KeyError(ref)
    return ref


def model_size(params: Study, ref: str) -> ModelSize:
    """The size of the model behind ``ref`` (that of the pretrain cell it descends from)."""
    graph = model_graph(params)
    return params.models[graph[root_of(graph, ref)].size]


def arch_change_error(source_arch: str, target_arch: str) -> str | None:
    source, target = architecture(source_arch), architecture(target_arch)
    if target.shares_weights_with(source) or target.initialises_from_weights_of(source):
        return None
    return f"cannot adapt an {source_arch} model into {target_arch} (an encoder-decoder stays one)"


def lineage_errors(params: Study) -> list[str]:
    """Unknown sources, cycles, impossible architecture changes and duplicate model names."""
    graph = model_graph(params)
    errors = []
    names: dict[str, str] = {}
    for node in graph.values():
        kind, name = node.stage, node.name
        if name in names:
            errors.append(f"{kind}.{name}: the name {name!r} is already used by {names[name]}.{name}")
        names.setdefault(name, kind)
    errors += graph_errors(graph)
    for name, cell in params.adapt.items():
        try:
            root_of(graph, f"adapt/{name}")
        except (KeyError, ValueError):  # reported by graph_errors
            continue
        source = graph[cell.from_]
        if (problem := arch_change_error(source.arch, cell.arch)) is not None:
            errors.append(f"adapt.{name}.arch: {problem}")
        converted = architecture(cell.arch).initialises_from_weights_of(architecture(source.arch))
        if not converted and (cell.cross_attention != "copy" or cell.warmup_steps):
            errors.append(
                f"adapt.{name}.cross_attention: only a decoder -> encoder_decoder adaptation "
                "initialises cross-attention"
            )
        if cell.warmup_steps and cell.cross_attention != "random":
            errors.append(
                f"adapt.{name}.warmup_steps: the cross-attention warm-up needs cross_attention: random"
            )
    return errors
