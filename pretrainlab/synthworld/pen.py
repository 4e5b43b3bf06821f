"""The sentence-level writer one document uses: facts in a chosen phrasing, events, fillers.

A :class:`Pen` carries the world, the document's dice and its ``offset``. The template that states a
tracked (``key``) fact is ``crc32(relation, subject) + offset``: the coverage passes of the corpus give
the same fact offsets 0 and 1, hence two different phrasings; sampled documents use a random offset.
"""

from __future__ import annotations

import zlib

from .dice import Dice
from .lexicon import CAUSE_EFFECT, FILLERS
from .phrasing import Fact, fact_of, state
from .world import Person, World

EVENT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "moved": ("{s} moved to {o} in {y}.", "In {y}, {S} settled in {o}.", "{s} has lived in {o} since {y}."),
    "joined": (
        "{s} joined {o} in {y}.",
        "In {y}, {S} started working at {o}.",
        "{s} has worked at {o} since {y}.",
    ),
    "award": ("{s} won {o} in {y}.", "In {y}, {S} was awarded {o}.", "{O} went to {S} in {y}."),
}


def cap(text: str) -> str:
    return text[0].upper() + text[1:]


class Pen:
    def __init__(self, world: World, dice: Dice, offset: int) -> None:
        self.world = world
        self.dice = dice
        self.offset = offset
        self._fillers: list[str] = []

    def fact(self, relation: str, subject: str, form: str = "name", *, key: bool = True) -> str:
        """A sentence stating ``relation(subject)``; ``key`` facts use the document's offset phrasing."""
        f = fact_of(self.world, relation, subject)
        return self.state(f, form, key=key)

    def state(self, f: Fact, form: str = "name", *, key: bool = True) -> str:
        t = zlib.crc32(f"{f.relation}|{f.subject}".encode()) + self.offset if key else self.dice.below(12)
        return state(f, t, world=self.world, form=form)

    def form(self) -> str:
        """How to name a person already introduced: mostly a pronoun, sometimes the given name."""
        return "given" if self.dice.chance(0.35) else "pronoun"

    def event(self, kind: str, p: Person, obj: str, year: int | None, form: str) -> str:
        s = p.pronoun if form == "pronoun" else (p.given if form == "given" else p.name)
        name = p.name if form == "name" else p.given
        text = self.dice.pick(EVENT_TEMPLATES[kind]).format(s=s, S=name, o=obj, O=cap(obj), y=year)
        return cap(text)

    def filler(self) -> str:
        """A non-factual sentence, avoiding ones this document already used."""
        text = self.dice.pick(FILLERS)
        for _ in range(3):
            if text not in self._fillers:
                break
            text = self.dice.pick(FILLERS)
        self._fillers.append(text)
        return text

    def cause_effect(self, p: Person, rule: int) -> str:
        """Commonsense episode ``rule`` with ``p`` in it, in one of three shapes.

        The person is named at the first mention and referred to by pronoun at the second.
        """
        cause, effect = CAUSE_EFFECT[rule]
        shape = self.dice.below(3)
        first, second = (effect, cause) if shape == 1 else (cause, effect)
        named = "{x}" in first
        first = first.format(x=p.given, poss=p.possessive)
        second = second.format(x=p.pronoun if named else p.given, poss=p.possessive)
        if shape == 0:
            return f"One day {first}, so {second}."
        if shape == 1:
            return f"{cap(first)} because {second}."
        return f"When {first}, {second}."

    def mix(self, sentences: list[str], fillers: float = 0.25) -> str:
        """Join sentences into a paragraph, sprinkling non-factual fillers between them."""
        out: list[str] = []
        for s in sentences:
            out.append(s)
            if self.dice.chance(fillers):
                out.append(self.filler())
        return " ".join(out)
