"""Task items, task families, and what a family's generator gets to work with.

Conventions every family follows: a prompt never ends with whitespace, and every choice begins with
exactly one space (it continues the prompt), so rank classification scores ``prompt + choice``.

No cue but the content may give an answer away (``tests/corpus/test_task_audit.py`` checks it):

* **Positions.** :func:`~.tasks.generate_task_items` hands every item a ``Context.target``, the position
  its gold answer must take, from a :class:`Balanced` schedule per template; :meth:`Context.choices` puts
  the answer there, and fixed-label families (yes/no, entailment) derive their label from it
  (topic.subject, whose answer is its anchor's kind, is balanced by its label instead).
* **Labels.** A family whose gold answer is a property of its anchor (a birthplace, a genre) declares
  ``label``; its anchors are then visited round-robin over labels, so every label is gold equally often,
  and :meth:`Context.distractors` draws wrong answers from the same labels. Gold and distractors are
  then exchangeable: their length, corpus frequency or prior cannot tell them apart.
* **Presence.** A distractor appears in the prompt as often as the answer: a family lists all choices,
  names none, or (reading comprehension) states a fact for every choice.

>>> d = Balanced(Dice.from_seed(0, "example"), 3)
>>> sorted(d.next() for _ in range(6))
[0, 0, 1, 1, 2, 2]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .dice import Dice
from .lexicon import FOODS, OCCUPATIONS
from .phrasing import Fact
from .world import City, Organization, Person, World

T = TypeVar("T")

_WORD = re.compile(r"[a-z0-9]+")
REDRAWS = 64  # draw_clean's attempts; every text kind it serves is clean in a third of draws or more
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


class Balanced:
    """Positions ``0..k-1`` served in shuffled blocks of ``k``: the first ``n`` draws hold each position
    ``n // k`` times or once more."""

    def __init__(self, dice: Dice, k: int) -> None:
        self._dice, self._k, self._block = dice, k, []

    def next(self) -> int:
        if not self._block:
            self._block = self._dice.shuffle(list(range(self._k)))
        return self._block.pop()


def by_label(anchors: Sequence[T], label: Callable[[T], str], n: int, dice: Dice) -> list[T]:
    """``n`` anchors visiting the labels round-robin (label order reshuffled each round), each label's
    anchors in turn: every label is gold ``n / len(labels)`` times, give or take one.

    >>> by_label(["a1", "a2", "a3", "b1"], lambda a: a[0], 4, Dice.from_seed(0, "doc"))
    ['a1', 'b1', 'a2', 'b1']
    """
    groups: dict[str, list[T]] = {}
    for anchor in anchors:
        groups.setdefault(label(anchor), []).append(anchor)
    out: list[T] = []
    for turn in range(-(-n // max(1, len(groups)))):
        out += [groups[key][turn % len(groups[key])] for key in dice.shuffle(list(groups))]
    return out[:n]


def mentions_any(text: str, phrases: Sequence[str]) -> bool:
    """Whether a word of ``phrases`` (articles aside) occurs in ``text``, case-insensitively."""
    wanted = {w for phrase in phrases for w in _WORD.findall(phrase.lower())} - {"a", "an", "the"}
    return not wanted.isdisjoint(_WORD.findall(text.lower()))


def draw_clean(draw: Callable[[], str], phrases: Sequence[str]) -> str:
    """``draw()`` until the text mentions no word of ``phrases`` (so no choice is named in it); the last
    draw if none is clean after ``REDRAWS``."""
    text = draw()
    for _ in range(REDRAWS - 1):
        if not mentions_any(text, phrases):
            break
        text = draw()
    return text


@dataclass
class Context:
    """What a family generator sees: the world, the corpus' stated facts, its split's entities, dice,
    and for the item being made the position its answer takes (``target``) and the family's gold labels."""

    world: World
    stated: Mapping[tuple[str, str], int]
    dice: Dice
    people: tuple[Person, ...]  # this split's people
    cities: tuple[City, ...]
    orgs: tuple[Organization, ...]
    labels: tuple[str, ...] = ()  # the gold labels of a family that declares ``label``
    target: int = 0  # the position of the current item's answer

    def is_stated(self, relation: str, subject: str) -> bool:
        return (relation, subject) in self.stated

    def choices(self, correct: str, distractors: Sequence[str]) -> tuple[tuple[str, ...], int]:
        """The correct answer at position ``target``, the distractors shuffled around it; each prefixed
        with a space."""
        options = self.dice.shuffle(list(distractors))
        options.insert(self.target, correct)
        return tuple(" " + o for o in options), self.target

    def distractors(self, correct: str, count: int, pool: Sequence[str]) -> list[str]:
        """``count`` wrong answers drawn uniformly from the family's other gold labels, so gold and wrong
        answers come from one distribution; topped up from ``pool`` when there are too few labels."""
        own = [x for x in self.labels if x != correct]
        if len(own) >= count:
            return self.dice.sample(own, count)
        return self.dice.shuffle(own) + self.dice.sample(pool, count - len(own), exclude=(correct, *own))

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
    label: Callable[[Any], str] | None = None  # the gold label an anchor fixes, to balance anchors by


def family(
    name: str,
    num_choices: int,
    anchors: Anchors,
    make: Maker,
    *,
    held_out: bool = False,
    label: Callable[[Any], str] | None = None,
) -> FamilySpec:
    """A spec with three templates ``t0..t2`` whose cluster is the name's prefix."""
    cluster = name.split(".")[0]
    fam = TaskFamily(name, cluster, held_out, ("t0", "t1", "t2"), num_choices)
    return FamilySpec(fam, anchors, make, label)


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
