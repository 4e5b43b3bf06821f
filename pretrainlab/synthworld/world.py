"""The fictional world: countries, cities, organizations and people, with their facts and events.

``build_world(entities, seed)`` is deterministic: the same arguments give the same world, whatever
``PYTHONHASHSEED`` is. ``entities`` counts named entities (countries + cities + organizations + people);
awards are named too but are not entities. Facts are consistent by construction: a founder is born
before the company is founded, people join an employer after it exists and after they turn 18, and a
person's occupation belongs to their employer's industry.

>>> w = build_world(20, seed=0)
>>> len(w.countries) + len(w.cities) + len(w.organizations) + len(w.people)
20
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from .dice import Dice
from .lexicon import CITY_FEATURES, FOODS, INDUSTRIES, OCCUPATION_BY_NAME, OCCUPATIONS, Occupation
from .names import NameMaker

PRESENT_YEAR = 2024
MIN_ENTITIES = 20


@dataclass(frozen=True)
class City:
    name: str
    country: str
    population: int
    feature: str  # what the city is known for ("its old stone bridge")


@dataclass(frozen=True)
class Organization:
    name: str
    industry: str
    hq: str  # city name
    founded: int
    founder: str  # person name


@dataclass(frozen=True)
class Person:
    name: str  # full name, unique in the world
    given: str  # given name, also unique in the world
    female: bool
    born: int
    birthplace: str
    home: str  # city lived in now
    moved: int | None  # year of moving to ``home``; None when home is the birthplace
    occupation: str
    employer: str
    joined: int
    friend: str  # best friend (a person name)
    food: str  # favourite food
    award: str | None
    award_year: int | None

    @property
    def job(self) -> Occupation:
        return OCCUPATION_BY_NAME[self.occupation]

    @property
    def pronoun(self) -> str:
        return "she" if self.female else "he"

    @property
    def object_pronoun(self) -> str:
        return "her" if self.female else "him"

    @property
    def possessive(self) -> str:
        return "her" if self.female else "his"


@dataclass(frozen=True)
class World:
    seed: int
    countries: tuple[str, ...]
    cities: tuple[City, ...]
    organizations: tuple[Organization, ...]
    people: tuple[Person, ...]
    awards: tuple[str, ...]
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        idx: dict = {}
        for group in (self.cities, self.organizations, self.people):
            for e in group:
                idx[e.name] = e
        for p in self.people:
            idx[p.given] = p
        object.__setattr__(self, "_index", idx)

    def person(self, name: str) -> Person:
        """A person by full or given name."""
        return self._index[name]

    def city(self, name: str) -> City:
        return self._index[name]

    def organization(self, name: str) -> Organization:
        return self._index[name]

    def cities_in(self, country: str) -> tuple[City, ...]:
        return tuple(c for c in self.cities if c.country == country)

    @functools.cached_property
    def people_born_in(self) -> dict[str, tuple[Person, ...]]:
        out: dict[str, list[Person]] = {c.name: [] for c in self.cities}
        for p in self.people:
            out[p.birthplace].append(p)
        return {k: tuple(v) for k, v in out.items()}

    @functools.cached_property
    def staff_of(self) -> dict[str, tuple[Person, ...]]:
        out: dict[str, list[Person]] = {o.name: [] for o in self.organizations}
        for p in self.people:
            out[p.employer].append(p)
        return {k: tuple(v) for k, v in out.items()}

    @functools.cached_property
    def city_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cities)

    @functools.cached_property
    def organization_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.organizations)


def entity_counts(entities: int) -> tuple[int, int, int, int]:
    """(countries, cities, organizations, people) for a world of ``entities`` named entities."""
    if entities < MIN_ENTITIES:
        raise ValueError(f"synthworld needs entities >= {MIN_ENTITIES}, got {entities}")
    countries = max(2, entities // 80)
    cities = max(4, entities // 10)
    orgs = max(4, entities // 10)
    return countries, cities, orgs, entities - countries - cities - orgs


@functools.lru_cache(maxsize=8)
def build_world(entities: int, seed: int) -> World:
    """The world for ``(entities, seed)``; cached because corpus and tasks both rebuild it."""
    n_countries, n_cities, n_orgs, n_people = entity_counts(entities)
    dice = Dice.from_seed(seed, "world")
    names = NameMaker(dice)

    countries = tuple(names.country() for _ in range(n_countries))
    cities = _cities(dice, names, countries, n_cities)
    city_names = tuple(c.name for c in cities)

    # People's basics first: founders are drawn from them, and employers need organizations.
    female = [dice.chance(0.5) for _ in range(n_people)]
    given = [names.given(f) for f in female]
    full = [names.full(g) for g in given]
    born = [dice.between(1935, 2001) for _ in range(n_people)]

    industries = dice.shuffle(list(INDUSTRIES))
    orgs = []
    for i in range(n_orgs):
        founder = dice.below(n_people)
        founded = min(born[founder] + dice.between(22, 55), PRESENT_YEAR - 1)
        orgs.append(
            Organization(
                names.organization(),
                industries[i % len(industries)],
                dice.pick(city_names),
                founded,
                full[founder],
            )
        )
    awards = tuple(names.award() for _ in range(max(2, entities // 100)))

    people = []
    for i in range(n_people):
        birthplace = dice.pick(city_names)
        home = birthplace if dice.chance(0.3) else dice.pick(city_names)
        moved = None if home == birthplace else min(born[i] + dice.between(18, 45), PRESENT_YEAR)
        employer = dice.pick(orgs)
        jobs = [o for o in OCCUPATIONS if o.industry == employer.industry]
        joined = min(max(employer.founded, born[i] + 18) + dice.between(0, 12), PRESENT_YEAR)
        friend = (i + 1 + dice.below(n_people - 1)) % n_people
        won = dice.chance(0.25)
        people.append(
            Person(
                name=full[i],
                given=given[i],
                female=female[i],
                born=born[i],
                birthplace=birthplace,
                home=home,
                moved=moved,
                occupation=dice.pick(jobs).name,
                employer=employer.name,
                joined=joined,
                friend=full[friend],
                food=dice.pick(FOODS),
                award=dice.pick(awards) if won else None,
                award_year=min(born[i] + dice.between(25, 60), PRESENT_YEAR) if won else None,
            )
        )
    return World(seed, countries, cities, tuple(orgs), tuple(people), awards)


def _cities(dice: Dice, names: NameMaker, countries: tuple[str, ...], n: int) -> tuple[City, ...]:
    """Cities spread over all countries; populations log-uniform in [2k, 2M], rounded, all distinct."""
    taken: set[int] = set()
    out = []
    for i in range(n):
        pop = round(math.exp(math.log(2_000) + dice.random() * math.log(1_000)) / 100) * 100
        while pop in taken:
            pop += 100
        taken.add(pop)
        country = countries[i % len(countries)] if i < len(countries) else dice.pick(countries)
        out.append(City(names.city(), country, pop, dice.pick(CITY_FEATURES)))
    return tuple(out)
