"""How one (prompt, choice) pair becomes an :class:`~pretrainlab.objectives.example.Example` for a
model: the layout its prompt format asks for (plain, a final sentinel span, UL2's ``[S2S]`` mode, or
masked slots), cut to the model's ``seq_len``. The rules, and why each was chosen, are in
:mod:`pretrainlab.evaluation.rank_classification`; which format a model gets is
:mod:`pretrainlab.evaluation.prompt_formats`. (Its own module so that the training stages, which
record a model's format, do not depend on the scorer's code.)

>>> layout = PromptFormat(input_suffix=(32100, 1), target_prefix=(32100,))   # span corruption
>>> example = layout.example(np.array([5, 6, 7]), np.array([9]), arch="causal_decoder", seq_len=16)
>>> example.inputs.tolist(), example.targets.tolist(), layout.skipped_targets
([5, 6, 7, 32100, 1], [32100, 9], 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pretrainlab.models.architectures import architecture
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.objectives.registry import OBJECTIVES, plain_prompt
from pretrainlab.tokenization.specials import SpecialTokens


@dataclass(frozen=True)
class PromptFormat:
    """How one (prompt, choice) pair becomes an :class:`Example` for a given model.

    inputs = ``prefix + prompt + input_suffix``, targets = ``target_prefix + choice``; only the
    choice part of the targets is scored.
    """

    prefix: tuple[int, ...] = ()  # before the prompt (a UL2 mode token)
    input_suffix: tuple[int, ...] = ()  # after the prompt (span corruption: <extra_id_0> </s>)
    target_prefix: tuple[int, ...] = ()  # before the choice (span corruption: <extra_id_0>)
    mask_fill: int | None = None  # BERT-style encoder: the choice is predicted at <mask> slots

    @classmethod
    def for_model(cls, objective: str, adapted: bool, specials: SpecialTokens) -> PromptFormat:
        """The format for a model pretrained with ``objective`` (see the module docstring)."""
        if adapted:
            return cls()
        spec = OBJECTIVES.get(objective)
        return cls(**(spec.prompt_layout if spec else plain_prompt)(specials))

    @property
    def skipped_targets(self) -> int:
        """Leading target tokens that are not part of the choice (and so not scored)."""
        return len(self.target_prefix)

    def example(self, prompt: np.ndarray, choice: np.ndarray, *, arch: str, seq_len: int) -> Example:
        if self.mask_fill is not None:
            return self._masked_slots(prompt, choice, seq_len)
        head = np.asarray(self.prefix, dtype=np.int64)
        tail = np.asarray(self.input_suffix, dtype=np.int64)
        target = np.concatenate(
            [np.asarray(self.target_prefix, dtype=np.int64), np.asarray(choice, dtype=np.int64)]
        )
        fixed = len(head) + len(tail)
        spec = architecture(arch)
        if spec.is_encoder_decoder:  # the encoder and the decoder are bounded separately
            target = target[:seq_len]
            room = seq_len - fixed
        else:  # one sequence: keep at least one prompt token, then as much prompt as fits
            target = target[: max(self.skipped_targets + 1, seq_len - fixed - 1)]
            room = seq_len - fixed - len(target)
        prompt = np.asarray(prompt, dtype=np.int64)
        prompt = prompt[len(prompt) - room :] if 0 < room < len(prompt) else prompt[: max(room, 0)]
        inputs = np.concatenate([head, prompt, tail])
        if len(inputs) == 0 and not spec.is_encoder_decoder:
            raise ValueError("a decoder needs at least one input token to score the first choice token")
        return Example(inputs=inputs, targets=target)

    def _masked_slots(self, prompt: np.ndarray, choice: np.ndarray, seq_len: int) -> Example:
        choice = np.asarray(choice, dtype=np.int64)[: seq_len - 1]
        prompt = np.asarray(prompt, dtype=np.int64)
        prompt = prompt[max(len(prompt) - (seq_len - len(choice)), 0) :]
        slots = np.full(len(choice), self.mask_fill, dtype=np.int64)
        labels = np.concatenate([np.full(len(prompt), IGNORE, dtype=np.int64), choice])
        return Example(inputs=np.concatenate([prompt, slots]), targets=slots[:0], aligned_labels=labels)
