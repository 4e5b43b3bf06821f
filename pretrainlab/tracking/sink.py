"""What one experiment tracker does for one run, in order: ``start``, ``log_metrics`` (many times),
``log_summary``, ``finish``. Values arrive flat (``{"pretrain.optimizer.lr": 0.003}``, see :func:`flat`).

>>> flat({"optimizer": {"lr": 0.003}, "sources": [{"kind": "synthworld"}]})
{'optimizer.lr': 0.003, 'sources[0].kind': 'synthworld'}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol


class Sink(Protocol):
    name: str  # the params.yaml name (tracking.sinks): what a warning names

    def start(self, run_name: str, group: str, config: Mapping[str, Any]) -> None: ...

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None: ...

    def log_summary(self, metrics: Mapping[str, float]) -> None: ...

    def finish(self, ok: bool = True) -> None: ...


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as one level of dotted keys (``a.b``, ``a[0]``); leaves kept as they are."""
    if isinstance(value, Mapping):
        items = [(f"{prefix}.{key}" if prefix else str(key), v) for key, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(value)]
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, v in items:
        out.update(flat(v, key))
    return out


def numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a (nested) record, flattened: what a tracker can plot (no text, no None)."""
    return {
        key: float(v)
        for key, v in flat(metrics).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
