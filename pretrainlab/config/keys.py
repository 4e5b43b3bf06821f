"""A study read by key path — the ``params.yaml`` names that dvc.yaml lists under a stage's ``params:``.

Each stage module declares, in one function ``study_keys(study, cell)``, the key each field of its
``Params`` comes from, and its ``main()`` builds ``Params`` from :func:`read` of those keys only. A
test (tests/pipelines/test_stage_declarations.py) checks that dvc.yaml lists exactly these keys, so
a key the stage reads but DVC does not watch (stale results) cannot slip in unnoticed.

>>> read(study, {"seq_len": "pretrain.seq_len", "cell": "pretrain.cells.cd-flm"})   # doctest: +SKIP
{'seq_len': 128, 'cell': PretrainCell(arch='causal_decoder', objective='full_lm', ...)}
>>> size_key(study, "adapt/cd-flm-to-nd-mlm")                                       # doctest: +SKIP
'models.tiny'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from pretrainlab.config.lineage import model_graph, root_of
from pretrainlab.config.schema import Study


def value_at(study: Study, key: str) -> Any:
    """The value at ``key`` (dotted, params.yaml spelling: ``adapt.x.from``); ``KeyError`` naming the key."""
    node: Any = study
    for part in key.split("."):
        if isinstance(node, BaseModel):
            fields = {info.alias or name: name for name, info in type(node).model_fields.items()}
            if part not in fields:
                raise KeyError(f"{key}: no key {part!r} in the study")
            node = getattr(node, fields[part])
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise KeyError(f"{key}: no key {part!r} in the study")
    return node


def read(study: Study, keys: Mapping[str, str]) -> dict[str, Any]:
    """``{field: key}`` -> ``{field: the study's value at key}``."""
    return {field: value_at(study, key) for field, key in keys.items()}


def size_key(study: Study, ref: str) -> str:
    """The key of the size of the model behind ``ref`` (that of the pretrain cell it descends from)."""
    root = root_of(model_graph(study), ref).split("/", 1)[1]
    return f"models.{study.pretrain.cells[root].model}"
