"""The reserved special tokens every pretrainlab tokenizer carries, and their ids.

Trained tokenizers put them first, in this order, so their ids are stable across vocab sizes:
``<pad>=0 <s>=1 </s>=2 <unk>=3 <mask>=4 [NLU]=5 [NLG]=6 [S2S]=7 <extra_id_0>=8 ...``.
A pretrained tokenizer directory must contain all of them (checked when it is loaded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD, BOS, EOS, UNK, MASK = "<pad>", "<s>", "</s>", "<unk>", "<mask>"
MODE_TOKENS = {"NLU": "[NLU]", "NLG": "[NLG]", "S2S": "[S2S]"}


def sentinel(i: int) -> str:
    """T5's name for the i-th sentinel: ``<extra_id_0>``, ``<extra_id_1>``, ..."""
    return f"<extra_id_{i}>"


def reserved_tokens(num_sentinels: int) -> list[str]:
    """All reserved specials in id order (what a trained BPE is given first)."""
    return [PAD, BOS, EOS, UNK, MASK, *MODE_TOKENS.values()] + [sentinel(i) for i in range(num_sentinels)]


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the reserved tokens in one tokenizer (what objectives and models need to know)."""

    pad: int
    bos: int
    eos: int
    unk: int
    mask: int
    modes: dict[str, int]  # "NLU" | "NLG" | "S2S" -> id
    sentinels: tuple[int, ...]  # sentinels[i] is <extra_id_i>
    vocab_size: int

    @classmethod
    def from_vocab(cls, vocab: dict[str, int], vocab_size: int | None = None) -> SpecialTokens:
        """Resolve ids from a token->id mapping; raises KeyError naming the first missing token."""
        sentinels = []
        while sentinel(len(sentinels)) in vocab:
            sentinels.append(vocab[sentinel(len(sentinels))])
        for token in (PAD, BOS, EOS, UNK, MASK, *MODE_TOKENS.values()):
            if token not in vocab:
                raise KeyError(token)
        return cls(
            pad=vocab[PAD],
            bos=vocab[BOS],
            eos=vocab[EOS],
            unk=vocab[UNK],
            mask=vocab[MASK],
            modes={mode: vocab[token] for mode, token in MODE_TOKENS.items()},
            sentinels=tuple(sentinels),
            vocab_size=vocab_size if vocab_size is not None else max(vocab.values()) + 1,
        )

    @property
    def all_ids(self) -> frozenset[int]:
        return frozenset(
            {self.pad, self.bos, self.eos, self.unk, self.mask, *self.modes.values(), *self.sentinels}
        )

    def regular_ids(self) -> np.ndarray:
        """Every id that is not a reserved special (what BERT's random replacement draws from)."""
        keep = np.ones(self.vocab_size, dtype=bool)
        keep[list(self.all_ids)] = False
        return np.flatnonzero(keep)

    @classmethod
    def for_tests(cls, vocab_size: int = 512, num_sentinels: int = 100) -> SpecialTokens:
        """The layout a trained pretrainlab tokenizer has (handy for unit tests without a tokenizer)."""
        names = reserved_tokens(num_sentinels)
        return cls.from_vocab({name: i for i, name in enumerate(names)}, vocab_size)
