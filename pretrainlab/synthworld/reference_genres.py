"""Genres that present facts as reference text: tables and lists, arithmetic, encyclopedia entries, reviews.

As in ``person_genres``, each renderer states every relation it is given as a key (for tables: every
key of every row), and ``list_rows`` fixes the rows from the document's offset alone, so the corpus
knows which facts a table states without rendering it.
"""

from __future__ import annotations

from .dice import Dice
from .lexicon import ASPECTS, SENTIMENT, VERDICTS
from .pen import Pen, cap
from .phrasing import article, number
from .world import PRESENT_YEAR, World

MAX_ROWS = 12
ITEMS = ("plums", "books", "coins", "eggs", "apples", "letters", "stamps", "pears", "candles")


def list_rows(world: World, kind: str, subject: str, offset: int) -> tuple[str, ...]:
    """Names listed by a table about ``subject``: a country's cities, a city's natives, an org's staff."""
    if kind == "country":
        pool = tuple(c.name for c in world.cities_in(subject))
    elif kind == "city":
        pool = tuple(p.name for p in world.people_born_in[subject])
    else:
        pool = tuple(p.name for p in world.staff_of[subject])
    if len(pool) <= MAX_ROWS:
        return pool
    return tuple(pool[(offset + i) % len(pool)] for i in range(MAX_ROWS))


def table(pen: Pen, kind: str, subject: str, rows: tuple[str, ...]) -> str:
    d, w = pen.dice, pen.world
    style = d.below(3)
    if kind == "country":
        cities = sorted((w.city(n) for n in rows), key=lambda c: -c.population)
        header = d.pick(
            (
                f"Cities of {subject}",
                f"The largest cities in {subject}",
                f"{subject}: cities and their populations",
            )
        )
        cells = [(c.name, number(c.population)) for c in cities]
        heads, unit = ("City", "Population"), "people"
        footer = (
            f"Together these {len(cities)} cities have {number(sum(c.population for c in cities))} people."
        )
    elif kind == "city":
        people = [w.person(n) for n in rows]
        header = d.pick(
            (
                f"People born in {subject}",
                f"Natives of {subject}",
                f"Some people from {subject} and their jobs",
            )
        )
        cells = [(p.name, str(p.born), p.occupation) for p in people]
        heads, unit = ("Name", "Born", "Job"), ""
        footer = f"All of them were born in {subject}."
    else:
        people = [w.person(n) for n in rows]
        header = d.pick((f"Staff of {subject}", f"Who works at {subject}", f"{subject}: people and roles"))
        cells = [(p.name, p.occupation, f"since {p.joined}") for p in people]
        heads, unit = ("Name", "Job", "Joined"), ""
        footer = f"All of them work for {subject}."
    if not cells:
        return f"{header}\n\nNo entries are known yet. {pen.filler()}"
    if style == 0:
        lines = [" | ".join(heads)] + [" | ".join(row) for row in cells]
    elif style == 1:
        lines = [
            f"{i + 1}. {row[0]} — {', '.join(row[1:])}{' ' + unit if unit else ''}"
            for i, row in enumerate(cells)
        ]
    else:
        lines = [f"- {row[0]}: {', '.join(row[1:])}{' ' + unit if unit else ''}" for row in cells]
    return f"{header}\n\n" + "\n".join(lines) + (f"\n\n{footer}" if d.chance(0.7) else "")


def math(pen: Pen, kind: str, subject: str, partner: str) -> str:
    d, w = pen.dice, pen.world
    if kind == "person":
        a, b = w.person(subject), w.person(partner)
        first, second = (a, b) if a.born <= b.born else (b, a)
        gap = second.born - first.born
        block = [pen.fact("birth_year", a.name), pen.fact("birth_year", b.name)]
        if gap == 0:
            block.append(f"So {a.given} and {b.given} were born in the same year.")
        else:
            block.append(
                d.pick(
                    (
                        f"So {first.given} was born {gap} years before {second.given}.",
                        f"That makes {second.given} {gap} years younger than {first.given}.",
                        f"{first.given} is older than {second.given} by {gap} years.",
                    )
                )
            )
        if d.chance(0.6):
            block.append(f"In {PRESENT_YEAR}, {a.given} turned {PRESENT_YEAR - a.born}.")
        if d.chance(0.4):
            block.append(f"In {PRESENT_YEAR}, {b.given} turned {PRESENT_YEAR - b.born}.")
    else:
        a, b = w.city(subject), w.city(partner)
        big, small = (a, b) if a.population >= b.population else (b, a)
        diff = big.population - small.population
        block = [pen.fact("population", a.name), pen.fact("population", b.name)]
        block.append(
            d.pick(
                (
                    f"{big.name} has {number(diff)} more people than {small.name}.",
                    f"{small.name} has {number(diff)} fewer people than {big.name}.",
                    f"The difference between {big.name} and {small.name} is {number(diff)} people.",
                )
            )
        )
        if d.chance(0.5):
            block.append(
                f"Together, {a.name} and {b.name} have {number(a.population + b.population)} people."
            )
    problems = [word_problem(d, w) for _ in range(d.between(2, 3))]
    parts = [" ".join(block)] + problems
    if d.chance(0.5):
        parts.reverse()
    return "\n\n".join(parts)


def word_problem(d: Dice, w: World) -> str:
    x, y = (p.given for p in d.sample(w.people, 2))
    item, n, k = d.pick(ITEMS), d.between(5, 40), d.between(1, 4)
    shape = d.below(4)
    if shape == 0:
        return f"{x} had {n} {item} and gave {k} to {y}. How many {item} does {x} have now? {x} has {n - k} {item} left."
    if shape == 1:
        return f"{x} bought {n} {item} on Monday and {k} on Tuesday, so {x} bought {n + k} {item} in all."
    if shape == 2:
        return f"{x} has {n} {item}. {y} has {k} more than {x}, so {y} has {n + k} {item}."
    m = k + 1
    return f"If {m * n} {item} are shared equally among {m} friends, each friend gets {n} {item}."


def encyclopedia(pen: Pen, kind: str, subject: str, keys: tuple[str, ...]) -> str:
    d, w = pen.dice, pen.world
    sentences = [pen.fact(r, subject) for r in keys]
    if kind == "city":
        c = w.city(subject)
        sentences.append(f"{c.name} is known for {c.feature}.")
        orgs = [o.name for o in w.organizations if o.hq == subject][:3]
        if orgs:
            sentences.append(f"Companies based in {subject} include {_join(orgs)}.")
        natives = w.people_born_in[subject]
        if natives:
            picked = d.sample(natives, min(3, len(natives)))
            sentences.append(
                f"Notable people born in {subject} include {_join([f'{p.name} ({article(p.occupation)})' for p in picked])}."
            )
    else:
        o = w.organization(subject)
        founder = w.person(o.founder)
        sentences.append(
            f"Its founder, {founder.name}, was born in {founder.born} and was {o.founded - founder.born} when the company started."
        )
        staff = w.staff_of[subject]
        if staff:
            picked = d.sample(staff, min(2, len(staff)))
            sentences.append(
                f"Its staff include {_join([f'{p.name} ({article(p.occupation)})' for p in picked])}."
            )
    body = pen.mix(sentences[:1] + d.shuffle(sentences[1:]), fillers=0.1)
    return f"{subject}\n\n{body}"


def review(pen: Pen, org: str, reviewer: str) -> str:
    d, w = pen.dice, pen.world
    positive = d.chance(0.5)
    stars = d.between(4, 5) if positive else d.between(1, 2)
    r = w.person(reviewer)
    header = d.pick((f"Review of {org} by {r.given}", f"{r.given} on {org}", f"Customer review: {org}"))
    body = [pen.fact("hq", org)] + review_sentences(d, positive, org, w.organization(org).hq)
    return f"{header}\nRating: {stars} out of 5\n\n{' '.join(body)}"


def review_sentences(d: Dice, positive: bool, org: str, city: str) -> list[str]:
    """A short review whose every opinion agrees with ``positive`` (some via negated opposites)."""
    intro = d.pick(
        (
            f"I went to {org} in {city} last week.",
            f"My visit to {org} was on a Monday.",
            f"I have been a customer of {org} for years.",
        )
    )
    out = [intro]
    for aspect, verb, kind in d.sample(ASPECTS, 3):
        good, bad = SENTIMENT[kind]
        if d.chance(0.25):
            out.append(f"{cap(aspect)} {verb} not {d.pick(bad if positive else good)}.")
            continue
        adj = d.pick(good if positive else bad)
        out.append(
            d.pick(
                (
                    f"{cap(aspect)} {verb} {adj}.",
                    f"I found {aspect} {adj}.",
                    f"Honestly, {aspect} seemed {adj} to me.",
                )
            )
        )
    out.append(d.pick(VERDICTS[positive]))
    return out


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
