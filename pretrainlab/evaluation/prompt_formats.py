"""Which prompt format a model is scored in — decided once, from how it was last trained, and recorded
in its model card (``prompt_format`` in ``pretrainlab.json``) by the stage that trained it.

A model reads a prompt best in the layout its *last* training taught it, whatever it was pretrained
with (:class:`~pretrainlab.evaluation.prompt_layout.PromptFormat` builds each layout):

================================  =============  ================================================
last training                     format         inputs → targets
================================  =============  ================================================
``full_lm``, ``prefix_lm``        ``plain``      ``prompt`` → ``choice``
``span_corruption``               ``sentinel``   ``prompt <extra_id_0> </s>`` → ``<extra_id_0> choice``
``ul2``                           ``ul2_s2s``    ``[S2S] prompt </s>`` → ``choice``
``mlm`` (BERT-style encoder)      ``mask_fill``  ``prompt <mask>×k`` (the choice at the slots)
multitask finetuning (any)        ``plain``      MTF trains on ``prompt`` → ``answer``
================================  =============  ================================================

So NC-A (a causal decoder adapted to a non-causal decoder with span corruption) is scored in the
sentinel format, like a non-causal decoder pretrained with span corruption, and LM-A (adapted to full
LM) in the plain one. Every scorer — our rank classification and the lm-evaluation-harness bridge —
reads the card through :func:`card_prompt_format`, so the two always agree.

>>> prompt_format_name("span_corruption")
'sentinel'
>>> prompt_format_name("span_corruption", multitask_finetuned=True)
'plain'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pretrainlab.config.replicates import split_replicate
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.prompt_layout import PromptFormat
from pretrainlab.models.load import MODEL_CARD
from pretrainlab.tokenization.specials import SpecialTokens

CARD_KEY = "prompt_format"
PLAIN, SENTINEL, UL2_S2S, MASK_FILL = "plain", "sentinel", "ul2_s2s", "mask_fill"
# The objective whose layout each format is (PromptFormat.for_model builds a layout from it).
_TAUGHT_BY = {PLAIN: "full_lm", SENTINEL: "span_corruption", UL2_S2S: "ul2", MASK_FILL: "mlm"}
PROMPT_FORMATS = tuple(_TAUGHT_BY)


def prompt_format_name(objective: str, *, multitask_finetuned: bool = False) -> str:
    """The format of a model whose last training objective was ``objective`` (plain after MTF)."""
    if multitask_finetuned:
        return PLAIN
    return next((name for name, taught in _TAUGHT_BY.items() if taught == objective), PLAIN)


def prompt_format(name: str, specials: SpecialTokens) -> PromptFormat:
    """The :class:`PromptFormat` called ``name`` (one of :data:`PROMPT_FORMATS`)."""
    if name not in _TAUGHT_BY:
        raise ValueError(f"unknown prompt format {name!r}; valid: {', '.join(PROMPT_FORMATS)}")
    return PromptFormat.for_model(_TAUGHT_BY[name], adapted=False, specials=specials)


def _training_stage(card: Mapping) -> str:
    kind, name = str(card.get("kind", "pretrain")), str(card.get("name", "<name>"))
    if kind == "pretrain" and (replicate := split_replicate(name)) is not None:
        return f"pretrain-replicate@{replicate[0]}-{replicate[1]}"
    return f"{kind}@{name}"


def card_prompt_format(model_dir: Path, card: Mapping | None = None) -> str:
    """The ``prompt_format`` recorded in ``model_dir``'s card (read from disk unless ``card`` is given).

    A card from before the field existed (or a directory without a card) is a :class:`UserInputError`
    that says which training stage to rerun.
    """
    path = Path(model_dir) / MODEL_CARD
    if card is None:
        if not path.is_file():
            raise UserInputError(
                f"{path}: no model card; the prompt format of a model is recorded by the stage that "
                "trained it (pretrain, adapt or finetune): train it with pretrainlab"
            )
        card = json.loads(path.read_text())
    name = card.get(CARD_KEY)
    if name is None:
        raise UserInputError(
            f"{path}: the model card has no `{CARD_KEY}` (it predates the field); rerun the stage that "
            f"trained the model: `dvc repro -f -s {_training_stage(card)}`"
        )
    if name not in PROMPT_FORMATS:
        raise UserInputError(
            f"{path}: `{CARD_KEY}` is {name!r}, not one of {', '.join(PROMPT_FORMATS)}; rerun "
            f"`dvc repro -f -s {_training_stage(card)}`"
        )
    return str(name)
