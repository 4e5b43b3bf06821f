"""The corpus: a deterministic stream of documents in eight genres that state the world's facts.

The stream is planned before it is written. A :class:`Plan` names a genre, a subject and an offset;
from the plan alone we know which facts the document states (its *keys*), so :func:`stated_facts`
answers "is this fact in the corpus?" without rendering text, and the task generator only asks
closed-book questions about facts the corpus states.

Coverage: the first plans visit every person, city and organization twice, in two different genres
and with offsets 0 and 1, hence two different phrasings of each tracked fact; the remaining plans are
sampled. When ``documents`` is smaller than the coverage passes, the second pass is cut first; coverage
is then best-effort and :func:`stated_facts` says what is covered.

>>> docs = list(generate_documents(documents=3, entities=20, seed=0))
>>> len(docs), all(len(d) >= 40 for d in docs)
(3, True)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .dice import Dice
from .pen import Pen
from .person_genres import biography, dialogue, organization_news, person_news, story
from .phrasing import CITY_RELATIONS, ORG_RELATIONS, PERSON_RELATIONS
from .reference_genres import encyclopedia, list_rows, math, review, table
from .world import World, build_world

GENRES = ("biography", "news", "dialogue", "story", "list", "math", "encyclopedia", "review")
GENRE_WEIGHTS = (0.14, 0.13, 0.13, 0.16, 0.09, 0.11, 0.12, 0.12)
# Subject kinds a genre can be about, with sampling weights.
GENRE_KINDS: dict[str, tuple[tuple[str, float], ...]] = {
    "biography": (("person", 1.0),),
    "news": (("person", 0.7), ("org", 0.3)),
    "dialogue": (("person", 0.6), ("city", 0.2), ("org", 0.2)),
    "story": (("person", 1.0),),
    "list": (("country", 0.3), ("city", 0.4), ("org", 0.3)),
    "math": (("person", 0.5), ("city", 0.5)),
    "encyclopedia": (("city", 0.5), ("org", 0.5)),
    "review": (("org", 1.0),),
}
# Relations of the subject a genre always states (tables and arithmetic are handled in plan_facts).
KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("biography", "person"): PERSON_RELATIONS,
    ("dialogue", "person"): ("birthplace", "birth_year", "occupation", "home"),
    ("news", "person"): ("birthplace", "birth_year", "occupation"),
    ("story", "person"): ("home", "occupation"),
    ("dialogue", "city"): CITY_RELATIONS,
    ("encyclopedia", "city"): CITY_RELATIONS,
    ("dialogue", "org"): ("hq", "founded", "industry"),
    ("news", "org"): ORG_RELATIONS,
    ("encyclopedia", "org"): ORG_RELATIONS,
    ("review", "org"): ("hq",),
}
# Genres used by the coverage passes; each states every tracked fact of its subject.
COVERAGE: dict[str, tuple[str, ...]] = {
    "person": ("biography", "dialogue", "news"),
    "city": ("encyclopedia", "dialogue"),
    "org": ("encyclopedia", "news", "dialogue"),
}
COVERAGE_PASSES = 2


@dataclass(frozen=True)
class Plan:
    genre: str
    kind: str  # person, city, org or country
    subject: str
    partner: str | None  # second person/city for arithmetic, the reviewer for reviews
    offset: int  # phrasing offset for key facts; also rotates table rows


@dataclass(frozen=True)
class Document:
    genre: str
    text: str
    facts: tuple[tuple[str, str], ...]  # (relation, subject) pairs the text states


def plan_facts(world: World, plan: Plan) -> tuple[tuple[str, str], ...]:
    """The ``(relation, subject)`` facts the document of ``plan`` is guaranteed to state."""
    if plan.genre == "list":
        rels = {
            "country": CITY_RELATIONS,
            "city": ("birthplace", "birth_year", "occupation"),
            "org": ("employer", "occupation"),
        }
        return tuple(
            (r, n) for n in list_rows(world, plan.kind, plan.subject, plan.offset) for r in rels[plan.kind]
        )
    if plan.genre == "math":
        rel = "birth_year" if plan.kind == "person" else "population"
        return ((rel, plan.subject), (rel, plan.partner))
    return tuple((r, plan.subject) for r in KEYS[(plan.genre, plan.kind)])


def render_plan(world: World, plan: Plan, dice: Dice) -> str:
    """The text of one planned document."""
    pen = Pen(world, dice, plan.offset)
    g, kind, subject = plan.genre, plan.kind, plan.subject
    keys = KEYS.get((g, kind), ())
    if g == "biography":
        return biography(pen, world.person(subject), keys)
    if g == "dialogue":
        return dialogue(pen, subject, kind, keys)
    if g == "news":
        return (
            person_news(pen, world.person(subject), keys)
            if kind == "person"
            else organization_news(pen, subject, keys)
        )
    if g == "story":
        return story(pen, world.person(subject), keys)
    if g == "list":
        return table(pen, kind, subject, list_rows(world, kind, subject, plan.offset))
    if g == "math":
        return math(pen, kind, subject, plan.partner)
    if g == "encyclopedia":
        return encyclopedia(pen, kind, subject, keys)
    return review(pen, subject, plan.partner)


def _subjects(world: World, kind: str) -> tuple[str, ...]:
    if kind == "person":
        return tuple(p.name for p in world.people)
    if kind == "city":
        return world.city_names
    if kind == "org":
        return world.organization_names
    return world.countries


def _partner(world: World, dice: Dice, genre: str, kind: str, subject: str) -> str | None:
    if genre == "review":
        return dice.pick(world.people).name
    if genre != "math":
        return None
    pool = _subjects(world, kind)
    return dice.sample(pool, 1, exclude=(subject,))[0]


def sample_plan(world: World, dice: Dice) -> Plan:
    """A random plan: genre by weight, a subject kind the genre allows, a random subject and offset."""
    genre = GENRES[dice.weighted(GENRE_WEIGHTS)]
    kinds = GENRE_KINDS[genre]
    kind = kinds[dice.weighted([w for _, w in kinds])][0]
    subject = dice.pick(_subjects(world, kind))
    return Plan(genre, kind, subject, _partner(world, dice, genre, kind, subject), dice.below(1 << 16))


@functools.lru_cache(maxsize=4)
def plan_corpus(documents: int, entities: int, seed: int) -> tuple[Plan, ...]:
    """The plans of the whole stream: coverage passes (cut to ``documents``), then samples, shuffled."""
    world = build_world(entities, seed)
    dice = Dice.from_seed(seed, "plan")
    subjects = [(k, n) for k in ("person", "city", "org") for n in _subjects(world, k)]
    genres = [dice.sample(COVERAGE[k], COVERAGE_PASSES) for k, _ in subjects]
    plans: list[Plan] = []
    for offset in range(COVERAGE_PASSES):
        order = dice.shuffle(list(range(len(subjects))))
        for i in order:
            kind, name = subjects[i]
            genre = genres[i][offset]
            plans.append(Plan(genre, kind, name, _partner(world, dice, genre, kind, name), offset))
    plans = plans[:documents]
    while len(plans) < documents:
        plans.append(sample_plan(world, dice))
    return tuple(dice.shuffle(plans))


@functools.lru_cache(maxsize=4)
def stated_facts(documents: int, entities: int, seed: int) -> Mapping[tuple[str, str], int]:
    """How many documents of the corpus state each ``(relation, subject)`` fact (absent: never)."""
    world = build_world(entities, seed)
    counts: dict[tuple[str, str], int] = {}
    for plan in plan_corpus(documents, entities, seed):
        for fact in plan_facts(world, plan):
            counts[fact] = counts.get(fact, 0) + 1
    return MappingProxyType(counts)  # cached: read-only


def generate_corpus(documents: int, entities: int, seed: int) -> Iterator[Document]:
    """Yield ``documents`` :class:`Document` s (genre, text, stated facts) of the world ``(entities, seed)``."""
    if documents < 0:
        raise ValueError(f"documents must be >= 0, got {documents}")
    world = build_world(entities, seed)
    dice = Dice.from_seed(seed, "text")
    for plan in plan_corpus(documents, entities, seed):
        yield Document(plan.genre, render_plan(world, plan, dice), plan_facts(world, plan))


def generate_documents(documents: int, entities: int, seed: int) -> Iterator[str]:
    """Yield the texts of ``generate_corpus(documents, entities, seed)`` (what the corpus stage reads)."""
    for doc in generate_corpus(documents, entities, seed):
        yield doc.text
