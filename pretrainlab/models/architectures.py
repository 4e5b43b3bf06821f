"""The architectures a cell can name, one :class:`~pretrainlab.models.architecture.ArchitectureSpec` each.

A new architecture is one new module under ``pretrainlab/models/`` holding its ``SPEC`` and one line here.
Importing this module imports neither torch nor transformers.

>>> architecture("noncausal_decoder").bidirectional_prefix
True
"""

from __future__ import annotations

from pretrainlab.models import causal_decoder, encoder, encoder_decoder, noncausal_decoder
from pretrainlab.models.architecture import ArchitectureSpec

ARCHITECTURES: dict[str, ArchitectureSpec] = {}


def register(spec: ArchitectureSpec) -> ArchitectureSpec:
    if spec.name in ARCHITECTURES:
        raise ValueError(f"architecture {spec.name!r} is already registered")
    ARCHITECTURES[spec.name] = spec
    return spec


def architecture(name: str) -> ArchitectureSpec:
    """The spec called ``name`` (``KeyError`` listing the valid names otherwise)."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown architecture {name!r}; valid names: {', '.join(ARCHITECTURES)}") from None


register(causal_decoder.SPEC)
register(noncausal_decoder.SPEC)
register(encoder_decoder.SPEC)
register(encoder.SPEC)
