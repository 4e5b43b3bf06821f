"""The objectives a cell can name, as a plain dict (seqio-style: duplicates rejected, lookups list names).

How each objective lays out on each architecture (:func:`pretrainlab.models.layout.collate`):

============== ================================ ================================== ===========================
objective      causal_decoder (CD)              noncausal_decoder (ND)             encoder_decoder (ED)
============== ================================ ================================== ===========================
full_lm        targets only, causal; loss on    —                                  —
               every token after the first
prefix_lm      prefix ⊕ rest, all causal; loss  prefix bidirectional, rest causal; prefix in the encoder, rest in
               on the rest                      loss on the rest                   the decoder (loss on all of it)
span_corrupt.  inputs ⊕ targets, causal; loss   inputs bidirectional, targets      inputs in the encoder, targets
               on targets                       causal; loss on targets            in the decoder
ul2            as span_corruption / prefix_lm   as span_corruption / prefix_lm     as span_corruption / prefix_lm
               per example (mode token first)   (mode token inside the prefix)     (mode token first in encoder)
============== ================================ ================================== ===========================

``mlm`` (BERT) runs on ``encoder``: a Gemma2 stack with fully bidirectional attention whose output at
each position predicts the original token there (loss on ``aligned_labels``).

Every objective uses the same raw length for a given ``seq_len`` on every architecture, so cells that
differ only in architecture train on the same tokens. That length is set by the decoder budget:
``len(inputs) + len(targets) <= seq_len``. For ``ul2`` it is the window the longest denoiser reads; each
denoiser is sized on its own and reads the window's first tokens (:mod:`pretrainlab.objectives.ul2`).
:attr:`ObjectiveSpec.padded_lengths` gives the static (input_len, target_len) to pass to ``collate``: for
ED the longest inputs and the longest targets; for decoders and the encoder a pair whose sum is the
longest ``inputs ⊕ targets`` (only the sum matters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.architectures import ARCHITECTURES, architecture
from pretrainlab.objectives import full_lm, mlm, prefix_lm, span_corruption, ul2
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens

ObjectiveFn = Callable[[np.ndarray, np.random.Generator, Any, SpecialTokens], list[Example]]
# How a model this objective trained reads a prompt: PromptFormat fields (evaluation/prompt_layout.py).
PromptLayout = Callable[[SpecialTokens], dict[str, Any]]
UL2_EVAL_MODE = "S2S"  # UL2's S-denoiser (prefix LM): "continue this prompt"


def plain_prompt(specials: SpecialTokens) -> dict[str, Any]:
    """``prompt`` -> ``choice``."""
    return {}


def sentinel_prompt(specials: SpecialTokens) -> dict[str, Any]:
    """The choice as the filler of a final masked span: ``prompt <extra_id_0> </s>`` -> ``<extra_id_0> choice``."""
    s0 = specials.sentinels[0]
    return {"input_suffix": (s0, specials.eos), "target_prefix": (s0,)}


def ul2_prompt(specials: SpecialTokens) -> dict[str, Any]:
    """UL2's S-denoiser: ``[S2S] prompt </s>`` -> ``choice``."""
    return {"prefix": (specials.modes[UL2_EVAL_MODE],), "input_suffix": (specials.eos,)}


def mask_fill_prompt(specials: SpecialTokens) -> dict[str, Any]:
    """BERT-style: the choice predicted at ``<mask>`` slots after the prompt."""
    return {"mask_fill": specials.mask}


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective: its pure function and what the data and model sides need to know about it."""

    name: str
    fn: ObjectiveFn
    runs_on: Callable[[ArchitectureSpec], bool]  # which architectures it trains
    _raw_length: Callable[[int, Any], int]
    _lengths: Callable[[int, Any], tuple[int, int, int]]
    _check: Callable[[int, Any, SpecialTokens], list[str]]
    prompt_layout: PromptLayout = plain_prompt  # how rank classification prompts a model it trained

    def raw_length(self, seq_len: int, options: Any, arch: str | None = None) -> int:
        """Raw tokens each example consumes; the same for every architecture (``arch`` is accepted for
        symmetry and checked)."""
        if arch is not None:
            self._require(arch)
        return self._raw_length(seq_len, options)

    @property
    def valid_architectures(self) -> frozenset[str]:
        """The registered architectures this objective trains."""
        return frozenset(name for name, spec in ARCHITECTURES.items() if self.runs_on(spec))

    def padded_lengths(self, seq_len: int, options: Any, arch: str) -> tuple[int, int]:
        """Static (input_len, target_len) for ``collate``: ED pads each side to its maximum; decoders and the
        encoder pad ``inputs ⊕ targets`` to ``input_len + target_len`` (the longest example)."""
        self._require(arch)
        return architecture(arch).padded_lengths(*self._lengths(seq_len, options))

    def check(self, seq_len: int, options: Any, specials: SpecialTokens) -> list[str]:
        """Human-readable reasons this objective cannot run at ``seq_len`` with ``options`` (empty if fine)."""
        return self._check(seq_len, options, specials)

    def _require(self, arch: str) -> None:
        if arch not in self.valid_architectures:
            raise ValueError(
                f"objective {self.name!r} does not run on {arch!r}; valid: {', '.join(sorted(self.valid_architectures))}"
            )


OBJECTIVES: dict[str, ObjectiveSpec] = {}


def register(spec: ObjectiveSpec) -> ObjectiveSpec:
    if spec.name in OBJECTIVES:
        raise ValueError(f"objective {spec.name!r} is already registered")
    OBJECTIVES[spec.name] = spec
    return spec


def get_objective(name: str) -> ObjectiveSpec:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise KeyError(f"unknown objective {name!r}; valid names: {', '.join(sorted(OBJECTIVES))}") from None


def valid_pairs() -> dict[str, frozenset[str]]:
    """architecture -> the objectives it can train with."""
    pairs: dict[str, set[str]] = {}
    for spec in OBJECTIVES.values():
        for arch in spec.valid_architectures:
            pairs.setdefault(arch, set()).add(spec.name)
    return {arch: frozenset(names) for arch, names in pairs.items()}


def _no_errors(seq_len: int, options: Any, specials: SpecialTokens) -> list[str]:
    return [] if seq_len >= 2 else [f"seq_len must be at least 2, got {seq_len}"]


def _causal(spec: ArchitectureSpec) -> bool:
    """Next-token prediction with causal attention everywhere (full_lm has no prefix)."""
    return spec.is_decoder and not spec.bidirectional_prefix


def _predicts_targets(spec: ArchitectureSpec) -> bool:
    return spec.predicts_targets


def _aligned_labels(spec: ArchitectureSpec) -> bool:
    return spec.aligned_labels


register(
    ObjectiveSpec(
        "full_lm",
        full_lm.full_lm,
        _causal,
        full_lm.raw_length,
        full_lm.lengths,
        _no_errors,
    )
)
register(
    ObjectiveSpec(
        "prefix_lm",
        prefix_lm.prefix_lm,
        _predicts_targets,
        prefix_lm.raw_length,
        prefix_lm.lengths,
        prefix_lm.check,
    )
)
register(
    ObjectiveSpec(
        "span_corruption",
        span_corruption.span_corruption,
        _predicts_targets,
        span_corruption.raw_length,
        span_corruption.lengths,
        span_corruption.check,
        sentinel_prompt,
    )
)
register(
    ObjectiveSpec("mlm", mlm.mlm, _aligned_labels, mlm.raw_length, mlm.lengths, mlm.check, mask_fill_prompt)
)
register(ObjectiveSpec("ul2", ul2.ul2, _predicts_targets, ul2.raw_length, ul2.lengths, ul2.check, ul2_prompt))
