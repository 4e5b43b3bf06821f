"""The declared pretraining mixture (``corpus.sources[].weight``), as the corpus stage records it.

The corpus stage does not resample anything: it writes each document once, whatever its weight, and
records under ``mixture`` in ``stats.json`` each source's weight, its declared proportion of the
training token stream, the origins its documents carry in the shards' ``source`` column and its
documents per split. The tokenize stage mixes the train stream by those proportions
(:mod:`pretrainlab.tokenization.mixing` says why there). Without weights nothing is recorded, so an
unweighted corpus is byte-identical to one built before weights existed.

>>> from collections import Counter
>>> mixture = declared_mixture(
...     [3.0, 1.0],
...     [{"files:a.jsonl": 5}, {"files:b.jsonl": 4}],
...     {"train": Counter({"files:a.jsonl": 4, "files:b.jsonl": 4}), "val": Counter({"files:a.jsonl": 1})},
... )
>>> [(s["key"], s["declared"], s["documents"]) for s in mixture["sources"]]
[('corpus.sources[0]', 0.75, {'train': 4, 'val': 1}), ('corpus.sources[1]', 0.25, {'train': 4, 'val': 0})]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pretrainlab.errors import UserInputError

MIXTURE = "mixture"  # the key of stats.json (and of the tokens' meta.json) that holds it


def source_key(index: int) -> str:
    return f"corpus.sources[{index}]"


def declared_mixture(
    weights: Sequence[float | None],
    origins: Sequence[Mapping[str, int]],
    written: Mapping[str, Counter[str]],
) -> dict[str, Any] | None:
    """The ``mixture`` entry of ``stats.json``, or None when no source has a weight.

    ``weights`` and ``origins`` (documents read per origin) are per source, in ``corpus.sources``
    order; ``written`` is the documents written per origin, per split. Raises UserInputError naming
    ``corpus.sources[i].weight`` when a weighted source has no train document left, or when two
    sources' documents carry the same origin (the tokenize stage could not tell them apart).
    """
    if all(weight is None for weight in weights):
        return None
    owner: dict[str, int] = {}
    for i, source_origins in enumerate(origins):
        for origin in source_origins:
            if origin in owner:
                raise UserInputError(
                    f"{source_key(i)}.weight: its documents and those of {source_key(owner[origin])} both "
                    f"come from {origin!r}, so their shares cannot be told apart; merge the two sources"
                )
            owner[origin] = i
    total = sum(weight or 0.0 for weight in weights)
    sources = []
    for i, (weight, source_origins) in enumerate(zip(weights, origins, strict=True)):
        documents = {split: sum(counts[o] for o in source_origins) for split, counts in written.items()}
        if weight and documents.get("train", 0) == 0:
            read = sum(source_origins.values())
            raise UserInputError(
                f"{source_key(i)}.weight: {weight:g}, but the source has no document in the train split "
                f"({read} read, none left after the filters and the split); drop its weight to 0 or fix "
                "the source"
            )
        sources.append(
            {
                "key": source_key(i),
                "weight": weight,
                "declared": (weight or 0.0) / total,
                "origins": sorted(source_origins),
                "documents": documents,
            }
        )
    return {"sources": sources}
