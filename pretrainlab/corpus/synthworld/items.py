"""Task items, task families, and what a family's generator gets to work with.

Conventions every family follows: a prompt never ends with whitespace, and every choice begins with
exactly one space (it continues the prompt), so rank classification scores ``prompt + choice``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dice import Dice
from .lexicon import FOODS, OCCUPATIONS
from .phrasing import Fact
from .world import City, Organization, Person, World

OCCUPATION_NAMES = tuple(o.name for o in OCCUPATIONS)
# Person relations with one value each: stating another value contradicts the fact.
SIMPLE_RELATIONS = ("birthplace", "birth_year", "home", "occupation", "employer", "food")


@dataclass(frozen=True)
class TaskItem:
    task: str  # family name, e.g. "closed_book_qa.birthplace"
    cluster: str  # e.g. "closed_book_qa", "nli"
    template: str  # template id, e.g. "t0"
    prompt: str  # text shown to the model
    choices: tuple[str, ...]  # answer strings, each beginning with a space
    answer: int  # index of the correct choice
    held_out: bool


@dataclass(frozen=True)
class TaskFamily:
    name: str
    cluster: str
    held_out: bool
    templates: tuple[str, ...]  # template ids
    num_choices: int  # fixed per family

    def random_baseline(self) -> float:
        """Accuracy of guessing uniformly among the choices."""
        return 1.0 / self.num_choices


@dataclass
class Context:
    """What a family generator sees: the world, the corpus' stated facts, its split's entities, dice."""

    world: World
    stated: Mapping[tuple[str, str], int]
    dice: Dice
    people: tuple[Person, ...]  # this split's people
    cities: tuple[City, ...]
    orgs: tuple[Organization, ...]

    def is_stated(self, relation: str, subject: str) -> bool:
        return (relation, subject) in self.stated

    def choices(self, correct: str, distractors: Sequence[str]) -> tuple[tuple[str, ...], int]:
        """Shuffle the correct answer among distractors; prefix each with a space."""
        options = [correct, *distractors]
        order = self.dice.shuffle(list(range(len(options))))
        return tuple(" " + options[i] for i in order), order.index(0)

    def wrong_object(self, f: Fact) -> str:
        """A value of ``f.relation`` (one of ``SIMPLE_RELATIONS``) other than ``f.obj``."""
        d, w = self.dice, self.world
        if f.relation in ("birthplace", "home"):
            return d.sample(w.city_names, 1, exclude=(f.obj,))[0]
        if f.relation == "birth_year":
            return str(int(f.obj) + d.pick((-1, 1)) * d.between(1, 15))
        pool = {"occupation": OCCUPATION_NAMES, "employer": w.organization_names, "food": FOODS}[f.relation]
        return d.sample(pool, 1, exclude=(f.obj,))[0]

    def partner(self, anchor: Person, ok: Callable[[Person], bool]) -> Person:
        """Another person satisfying ``ok``: from this split when possible, else from the whole world."""
        for pool in (self.people, self.world.people):
            for _ in range(64):
                q = self.dice.pick(pool)
                if q is not anchor and ok(q):
                    return q
            found = [q for q in pool if q is not anchor and ok(q)]
            if found:
                return self.dice.pick(found)
        raise ValueError(f"no partner for {anchor.name} in this world")


# make(ctx, anchor, template_index) -> (prompt, choices, answer)
Maker = Callable[[Context, Any, int], tuple[str, tuple[str, ...], int]]
Anchors = Callable[[Context], Sequence[Any]]


@dataclass(frozen=True)
class FamilySpec:
    family: TaskFamily
    anchors: Anchors  # what items are about (already restricted to the split)
    make: Maker


def family(
    name: str, num_choices: int, anchors: Anchors, make: Maker, *, held_out: bool = False
) -> FamilySpec:
    """A spec with three templates ``t0..t2`` whose cluster is the name's prefix."""
    cluster = name.split(".")[0]
    return FamilySpec(TaskFamily(name, cluster, held_out, ("t0", "t1", "t2"), num_choices), anchors, make)


def options_text(choices: tuple[str, ...]) -> str:
    """``" a", " b", " c"`` -> ``"a, b or c"`` for templates that list the options in the prompt."""
    names = [c.strip() for c in choices]
    return ", ".join(names[:-1]) + " or " + names[-1]


def excerpt(text: str, limit: int = 420) -> str:
    """The beginning of ``text``, cut at a line or sentence end so prompts stay short."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind("\n", 0, limit), text.rfind(". ", 0, limit) + 1)
    return text[: cut if cut > 40 else limit].rstrip()
