"""Genres told around one subject: biographies, news reports, dialogues and short stories.

Every renderer takes the ``keys`` (relations of the subject it must state, each with the pen's key
phrasing) and is free to add more: other facts in random phrasings, events, commonsense episodes and
fillers. ``documents.py`` decides the keys, so it knows what each document states without rendering it.
"""

from __future__ import annotations

from .lexicon import CAUSE_EFFECT
from .pen import Pen, cap
from .phrasing import CITY_RELATIONS, article
from .world import PRESENT_YEAR, Person

QUESTIONS: dict[str, tuple[str, ...]] = {
    "birthplace": (
        "Where was {x} born?",
        "Where does {x} come from originally?",
        "Which city was {x} born in?",
    ),
    "birth_year": ("When was {x} born?", "How old is {x}?", "What year was {x} born?"),
    "occupation": ("What does {x} do for a living?", "What is {xp} job?", "What kind of work does {x} do?"),
    "home": ("Where does {x} live now?", "Which city does {x} live in?", "Does {x} still live nearby?"),
    "employer": ("Who does {x} work for?", "Which company employs {x}?", "Where does {x} work?"),
    "friend": ("Who is {xp} best friend?", "Does {x} have a best friend?", "Who does {x} spend time with?"),
    "food": ("What does {x} like to eat?", "What is {xp} favourite food?", "Is there a food {x} loves?"),
    "country": ("Which country is {x} in?", "Where is {x}?", "In what country would I find {x}?"),
    "population": ("How many people live in {x}?", "How big is {x}?", "Is {x} a large city?"),
    "hq": ("Where is {x} based?", "Where is the head office of {x}?", "Which city is {x} in?"),
    "founded": ("When was {x} founded?", "How old is {x}?", "Since when has {x} been around?"),
    "industry": ("What does {x} do?", "What kind of company is {x}?", "What business is {x} in?"),
    "founder": ("Who founded {x}?", "Who started {x}?", "Whose company was {x} at first?"),
}
OPENERS = ("Do you know {n}?", "I ran into {n} yesterday.", "Tell me about {n}.", "Have you heard of {n}?")
FIRST_REPLIES = ("Of course.", "Yes, a little.", "Sure, I know a few things.", "Oh, yes!")
BACKCHANNELS = (
    "I did not know that.",
    "Interesting!",
    "That sounds right.",
    "Ah, I see.",
    "Really?",
    "Good to know.",
)
CLOSERS = (
    "Thanks, that helps.",
    "I should visit some time.",
    "Let us talk again soon.",
    "Well, I learned something today.",
)
QUOTES = (
    "I am very grateful to everyone who helped",
    "It has been a long road, but a good one",
    "This is a new start for me",
    "I could not have done it alone",
    "We worked hard for this day",
)
STORY_OPENINGS = (
    "This is a story about {g}.",
    "{g} had a busy week.",
    "Here is something that happened to {g} once.",
    "Let me tell you about {g}.",
)
STORY_ENDINGS = (
    "And that is how the day ended.",
    "{g} smiled and went home.",
    "It was a day {g} would always remember.",
    "The next morning, everything was calm again.",
)


def biography(pen: Pen, p: Person, keys: tuple[str, ...]) -> str:
    """Birth, then work, home and private life (those three in random order), each with context."""
    d, w = pen.dice, pen.world
    org, home = w.organization(p.employer), w.city(p.home)

    def say(*relations: str) -> list[str]:
        return [pen.fact(r, p.name, pen.form()) for r in relations if r in keys]

    lead = (
        pen.fact("birthplace", p.name) if "birthplace" in keys else pen.fact("birthplace", p.name, key=False)
    )
    birth = [lead, *d.shuffle(say("birth_year"))]
    if d.chance(0.7):
        birth.append(f"{p.given} grew up in {p.birthplace}, a city known for {w.city(p.birthplace).feature}.")
    work = d.shuffle(say("occupation", "employer")) + [
        pen.event("joined", p, p.employer, p.joined, pen.form())
    ]
    if d.chance(0.6):
        work.append(f"As {article(p.occupation)}, {p.given} {p.job.present} most days.")
    if d.chance(0.5):
        work.append(f"{org.name} is {article(org.industry)} company based in {org.hq}.")
    living = say("home")
    if p.moved is not None:
        living.append(pen.event("moved", p, p.home, p.moved, pen.form()))
    if d.chance(0.5):
        living.append(f"{home.name} lies in {home.country} and is known for {home.feature}.")
    private = d.shuffle(say("friend", "food"))
    if p.award is not None:
        private.append(pen.event("award", p, p.award, p.award_year, pen.form()))
    paragraphs = [birth] + d.shuffle([work, living, private])
    text = "\n\n".join(pen.mix(para, fillers=0.15) for para in paragraphs if para)
    return f"{p.name}\n\n{text}" if d.chance(0.5) else text


def dialogue(pen: Pen, subject: str, kind: str, keys: tuple[str, ...]) -> str:
    d, w = pen.dice, pen.world
    avoid = [w.person(subject), w.person(w.person(subject).friend)] if kind == "person" else []
    a, b = (q.given for q in d.sample(w.people, 2, exclude=avoid))
    lines = [f"{a}: {d.pick(OPENERS).format(n=subject)}", f"{b}: {d.pick(FIRST_REPLIES)}"]
    for r in d.shuffle(list(keys)):
        if kind == "person":
            p = w.person(subject)
            x, xp, form = (
                (p.pronoun, p.possessive, "pronoun") if d.chance(0.6) else (p.given, p.given + "'s", "given")
            )
        else:
            x, xp, form = subject, subject + "'s", "name"
        lines.append(f"{a}: {cap(d.pick(QUESTIONS[r]).format(x=x, xp=xp))}")
        answer = pen.fact(r, subject, form)
        if r in CITY_RELATIONS and d.chance(0.5):
            answer = f"{answer} It is known for {w.city(subject).feature}."
        lines.append(f"{b}: {answer}")
        if d.chance(0.3):
            lines.append(f"{a}: {d.pick(BACKCHANNELS)}")
    lines.append(f"{a}: {d.pick(CLOSERS)}")
    return "\n".join(lines)


def person_news(pen: Pen, p: Person, keys: tuple[str, ...]) -> str:
    d, w = pen.dice, pen.world
    org = w.organization(p.employer)
    if p.award is not None and d.chance(0.7):
        year, where = p.award_year, p.home
        headline = f"{p.name} wins {p.award}"
        lead = pen.event("award", p, p.award, p.award_year, "name")
    elif p.moved is not None and d.chance(0.5):
        year, where = p.moved, p.home
        headline = f"{p.name} moves to {p.home}"
        lead = pen.event("moved", p, p.home, p.moved, "name")
    else:
        year, where = p.joined, org.hq
        headline = f"{p.employer} welcomes {p.name}"
        lead = pen.event("joined", p, p.employer, p.joined, "name")
    body = [lead] + [pen.fact(r, p.name, pen.form()) for r in d.shuffle(list(keys))]
    context = [
        f"{org.name}, {article(org.industry)} company based in {org.hq}, was founded in {org.founded}.",
        f"{p.given} has worked at {org.name} since {p.joined}.",
        f"{p.home} is a city of {w.city(p.home).population:,} people.",
        pen.fact("friend", p.name, pen.form(), key=False),
        f"Friends say {p.given} {p.job.present} better than anyone.",
    ]
    body += d.sample(context, 2)
    if d.chance(0.7):
        body.append(f'"{d.pick(QUOTES)}," {p.given} said.')
    dateline = f"{where.upper()}, {year} — "
    return f"{headline}\n\n{dateline}{pen.mix(body, fillers=0.3)}"


def organization_news(pen: Pen, name: str, keys: tuple[str, ...]) -> str:
    d, w = pen.dice, pen.world
    o = w.organization(name)
    if d.chance(0.5):
        headline, year = f"New {o.industry} company opens in {o.hq}", o.founded
        lead = f"A new company, {o.name}, opened this week in {o.hq}."
    else:
        years = PRESENT_YEAR - o.founded
        headline, year = f"{o.name} celebrates {years} years", PRESENT_YEAR
        lead = f"{o.name} is celebrating {years} years in business."
    body = [lead] + [pen.fact(r, name) for r in d.shuffle(list(keys))]
    staff = w.staff_of[name]
    if staff:
        s = d.pick(staff)
        body.append(f'"We are proud of our work," said {s.name}, {article(s.occupation)} at the company.')
    return f"{headline}\n\n{o.hq.upper()}, {year} — {pen.mix(body, fillers=0.3)}"


def story(pen: Pen, p: Person, keys: tuple[str, ...]) -> str:
    d, w = pen.dice, pen.world
    g = p.given
    sentences = [d.pick(STORY_OPENINGS).format(g=g)]
    sentences += [pen.fact(r, p.name, pen.form()) for r in keys]
    sentences.append(
        f"Every morning, {p.pronoun} {p.job.past}."
        if d.chance(0.5)
        else f"Like every {p.occupation}, {g} {p.job.present}."
    )
    for rule in d.sample(range(len(CAUSE_EFFECT)), d.between(1, 3)):
        sentences.append(pen.cause_effect(p, rule))
    friend = w.person(p.friend)
    if d.chance(0.6):
        sentences.append(
            f"Later, {g}'s best friend {friend.given} came by, and they shared some {p.food}, {g}'s favourite food."
        )
    sentences.append(d.pick(STORY_ENDINGS).format(g=g))
    return pen.mix(sentences, fillers=0.2)
