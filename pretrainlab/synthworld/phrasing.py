"""Facts and the sentences that state them: at least three phrasings per kind of fact.

A :class:`Fact` is ``(relation, subject, obj)``; :func:`state` renders it with one template, naming the
subject in full, by given name, or by pronoun. :func:`phrasings` lists every way the corpus can state a
fact as a standalone sentence, which is what tests (and users) search for.

>>> state(Fact("birthplace", "Kiron Valdane", "Velmora"), template=2)
'Velmora is the birthplace of Kiron Valdane.'
"""

from __future__ import annotations

from dataclasses import dataclass

from .world import City, Organization, Person, World

TEMPLATES: dict[str, tuple[str, ...]] = {
    # people
    "birthplace": (
        "{s} was born in {o}.",
        "{s} is a native of {o}.",
        "{o} is the birthplace of {S}.",
        "{P} place of birth is {o}.",
    ),
    "birth_year": (
        "{s} was born in {o}.",
        "{s} came into the world in {o}.",
        "{P} year of birth is {o}.",
        "The year {S} was born was {o}.",
    ),
    "home": (
        "{s} lives in {o}.",
        "These days {S} lives in {o}.",
        "{o} is where {S} makes a home now.",
        "{s} has a house in {o}.",
    ),
    "occupation": (
        "{s} works as {a_o}.",
        "{s} is {a_o} by trade.",
        "By profession, {S} is {a_o}.",
        "{s} earns a living as {a_o}.",
    ),
    "employer": (
        "{s} works for {o}.",
        "{s} is employed by {o}.",
        "{o} employs {S}.",
        "{s} has a job at {o}.",
    ),
    "friend": (
        "{P} best friend is {o}.",
        "{o} is the best friend of {S}.",
        "{s} counts {o} as {p} best friend.",
    ),
    "food": (
        "{P} favourite food is {o}.",
        "{s} loves {o} more than any other food.",
        "If you ask {Sobj}, the best food in the world is {o}.",
    ),
    # cities
    "country": (
        "{s} is a city in {o}.",
        "{s} lies in {o}.",
        "The city of {S} is located in {o}.",
        "{o} is home to the city of {S}.",
    ),
    "population": (
        "{s} has a population of {o}.",
        "{o} people live in {S}.",
        "The population of {S} is {o}.",
        "{o} people call {S} home.",
    ),
    # organizations
    "hq": (
        "{s} has its headquarters in {o}.",
        "{s} is based in {o}.",
        "The head office of {S} is in {o}.",
        "{o} is home to the head office of {S}.",
    ),
    "founded": (
        "{s} was founded in {o}.",
        "{s} was established in {o}.",
        "{s} opened its doors in {o}.",
        "Since {o}, {S} has been in business.",
    ),
    "industry": (
        "{s} is a {o} company.",
        "{s} does business in {o}.",
        "{s} belongs to the {o} industry.",
    ),
    "founder": (
        "{s} was founded by {o}.",
        "{o} founded {S}.",
        "{o} is the founder of {S}.",
    ),
}

PERSON_RELATIONS = ("birthplace", "birth_year", "home", "occupation", "employer", "friend", "food")
CITY_RELATIONS = ("country", "population")
ORG_RELATIONS = ("hq", "founded", "industry", "founder")


@dataclass(frozen=True)
class Fact:
    relation: str
    subject: str  # full name of the person, city or organization
    obj: str  # the object as the text states it: a name, a year, "12,400", a food...


def article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def number(n: int) -> str:
    return f"{n:,}"


def fact_of(world: World, relation: str, subject: str) -> Fact:
    """The world's fact ``relation(subject)``, with its object as text."""
    if relation in PERSON_RELATIONS:
        e: Person = world.person(subject)
        obj = {
            "birthplace": e.birthplace,
            "birth_year": str(e.born),
            "home": e.home,
            "occupation": e.occupation,
            "employer": e.employer,
            "friend": e.friend,
            "food": e.food,
        }[relation]
        return Fact(relation, subject, obj)
    if relation in CITY_RELATIONS:
        c: City = world.city(subject)
        return Fact(relation, subject, c.country if relation == "country" else number(c.population))
    o: Organization = world.organization(subject)
    obj = {"hq": o.hq, "founded": str(o.founded), "industry": o.industry, "founder": o.founder}[relation]
    return Fact(relation, subject, obj)


def _forms(world: World | None, fact: Fact, form: str) -> dict[str, str]:
    """Subject slots: ``s`` opening subject, ``S`` mid-sentence name, ``P``/``p`` possessives, ``Sobj`` object.

    Pronouns fill only ``s``, ``P`` and ``Sobj``; ``S`` always names, so every sentence stays clear.
    """
    person = world.person(fact.subject) if world is not None and fact.relation in PERSON_RELATIONS else None
    name = person.given if form == "given" and person is not None else fact.subject
    if form == "pronoun" and person is not None:
        return {
            "s": person.pronoun,
            "S": name,
            "P": person.possessive,
            "Sobj": person.object_pronoun,
            "p": person.possessive,
        }
    p = person.possessive if person is not None else "its"
    return {"s": name, "S": name, "P": name + "'s", "Sobj": name, "p": p}


def state(fact: Fact, template: int, *, world: World | None = None, form: str = "name") -> str:
    """One sentence stating ``fact`` with template ``template % n`` (``form``: name, given, pronoun)."""
    options = TEMPLATES[fact.relation]
    tmpl = options[template % len(options)]
    slots = _forms(world, fact, form)
    text = tmpl.format(o=fact.obj, a_o=article(fact.obj), **slots)
    return text[0].upper() + text[1:]


def phrasings(world: World, fact: Fact) -> tuple[str, ...]:
    """Every standalone sentence by which the corpus states ``fact`` (all templates x subject forms)."""
    out: list[str] = []
    for t in range(len(TEMPLATES[fact.relation])):
        for form in ("name", "given", "pronoun"):
            sentence = state(fact, t, world=world, form=form)
            if sentence not in out:
                out.append(sentence)
    return tuple(out)
