"""Fast scalar draws from an explicitly seeded ``numpy.random.Generator``.

Generating text makes millions of tiny choices; asking numpy for one scalar at a time costs
microseconds each, so :class:`Dice` draws uniforms in blocks and serves them one by one. The stream
depends only on the generator's seed (never on the global ``random`` state or on ``PYTHONHASHSEED``).

>>> d = Dice.from_seed(0, "example")
>>> d.pick(("a", "b", "c")) in ("a", "b", "c")
True
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_BLOCK = 4096


def stream_seed(seed: int, *labels: str | int) -> list[int]:
    """Entropy for ``numpy.random.default_rng``: the user seed plus stable labels (crc32, not ``hash``)."""
    words = [seed % (1 << 64)]
    for label in labels:
        words.append(label % (1 << 32) if isinstance(label, int) else zlib.crc32(label.encode()))
    return words


class Dice:
    """Uniform draws served from blocks of ``Generator.random``; every method consumes whole draws."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    @classmethod
    def from_seed(cls, seed: int, *labels: str | int) -> Dice:
        return cls(np.random.default_rng(stream_seed(seed, *labels)))

    def random(self) -> float:
        if self._i == len(self._buf):
            self._buf = self._rng.random(_BLOCK).tolist()
            self._i = 0
        x = self._buf[self._i]
        self._i += 1
        return x

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``."""
        return min(int(self.random() * n), n - 1)

    def between(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]`` (both ends included)."""
        return lo + self.below(hi - lo + 1)

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]

    def weighted(self, weights: Sequence[float]) -> int:
        """An index drawn with probability proportional to ``weights``."""
        x = self.random() * sum(weights)
        for i, w in enumerate(weights):
            x -= w
            if x < 0:
                return i
        return len(weights) - 1

    def shuffle(self, items: list[T]) -> list[T]:
        """Shuffle in place (Fisher-Yates) and return the list."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items

    def sample(self, seq: Sequence[T], k: int, exclude: Sequence[T] = ()) -> list[T]:
        """``k`` distinct elements of ``seq`` (by position), none equal to one in ``exclude``.

        Rejection sampling by index keeps this cheap when ``k`` is small and ``seq`` is large.
        Raises ``ValueError`` when ``seq`` has fewer than ``k`` eligible elements.
        """
        eligible = [i for i, x in enumerate(seq) if x not in exclude] if len(seq) <= 4 * k + 8 else None
        if eligible is not None:
            if len(eligible) < k:
                raise ValueError(f"cannot draw {k} distinct items from {len(eligible)}")
            return [seq[i] for i in self.shuffle(eligible)[:k]]
        chosen: list[int] = []
        for _ in range(200 * k):
            i = self.below(len(seq))
            if i not in chosen and seq[i] not in exclude:
                chosen.append(i)
                if len(chosen) == k:
                    return [seq[i] for i in chosen]
        eligible = [i for i, x in enumerate(seq) if x not in exclude and i not in chosen]
        if len(chosen) + len(eligible) < k:
            raise ValueError(f"cannot draw {k} distinct items from {len(chosen) + len(eligible)}")
        return [seq[i] for i in chosen + self.shuffle(eligible)[: k - len(chosen)]]
