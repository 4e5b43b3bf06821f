"""Where each model of a study comes from: pretrain cells are roots; adaptations and finetunes name
their source as ``<stage>/<name>`` (its path under ``data/models/``).

>>> graph = model_graph(params)                               # doctest: +SKIP
>>> graph["adapt/nd-mlm-to-cd-flm"].parent
'pretrain/nd-mlm'
"""

from __future__ import annotations

from dataclasses import dataclass

from pretrainlab.config.schema import ModelSize, Params
from pretrainlab.models.architectures import architecture


@dataclass(frozen=True)
class ModelNode:
    ref: str  # "pretrain/cd-flm", "adapt/x", "finetune/y"
    arch: str
    objective: str | None  # None for finetuned models (multitask prompted)
    parent: str | None


def model_graph(params: Params) -> dict[str, ModelNode]:
    nodes = {
        f"pretrain/{name}": ModelNode(f"pretrain/{name}", cell.arch, cell.objective, None)
        for name, cell in params.pretrain.cells.items()
    }
    for name, cell in params.adapt.items():
        nodes[f"adapt/{name}"] = ModelNode(f"adapt/{name}", cell.arch, cell.objective, cell.from_)
    for name, cell in params.finetune.items():
        parent = nodes.get(cell.from_)
        arch = parent.arch if parent else "causal_decoder"
        nodes[f"finetune/{name}"] = ModelNode(f"finetune/{name}", arch, None, cell.from_)
    # An adaptation's source may be declared after it; resolve finetune archs once more.
    for name, cell in params.finetune.items():
        if (parent := nodes.get(cell.from_)) is not None:
            nodes[f"finetune/{name}"] = ModelNode(f"finetune/{name}", parent.arch, None, cell.from_)
    return nodes


def root_of(graph: dict[str, ModelNode], ref: str) -> str:
    """The pretrain cell a model descends from (``ValueError`` on a cycle or a dangling source)."""
    seen = []
    while ref in graph and graph[ref].parent is not None:
        if ref in seen:
            raise ValueError(" -> ".join([*seen, ref]))
        seen.append(ref)
        ref = graph[ref].parent  # type: ignore[assignment]
    if ref not in graph:
        raise KeyError(ref)
    return ref


def model_size(params: Params, ref: str) -> ModelSize:
    """The size of the model behind ``ref`` (that of the pretrain cell it descends from)."""
    root = root_of(model_graph(params), ref)
    return params.models[params.pretrain.cells[root.split("/", 1)[1]].model]


def arch_change_error(source_arch: str, target_arch: str) -> str | None:
    source, target = architecture(source_arch), architecture(target_arch)
    if target.shares_weights_with(source) or target.initialises_from_weights_of(source):
        return None
    return f"cannot adapt an {source_arch} model into {target_arch} (an encoder-decoder stays one)"


def lineage_errors(params: Params) -> list[str]:
    """Unknown sources, cycles, impossible architecture changes and duplicate model names."""
    graph = model_graph(params)
    errors = []
    names: dict[str, str] = {}
    for ref in graph:
        kind, name = ref.split("/", 1)
        if name in names:
            errors.append(f"{kind}.{name}: the name {name!r} is already used by {names[name]}.{name}")
        names.setdefault(name, kind)
    for section, cells in (("adapt", params.adapt), ("finetune", params.finetune)):
        for name, cell in cells.items():
            key = f"{section}.{name}.from"
            if cell.from_ not in graph:
                errors.append(
                    f"{key}: no model {cell.from_!r} is defined (write pretrain/<cell> or adapt/<name>)"
                )
                continue
            try:
                root_of(graph, f"{section}/{name}")
            except ValueError as cycle:
                errors.append(f"{key}: adaptations form a cycle: {cycle}")
                continue
            if section == "adapt":
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
