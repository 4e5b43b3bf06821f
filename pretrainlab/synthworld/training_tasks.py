"""Task families of the training clusters (used by multitask finetuning and evaluated too).

closed-book QA and comparison ask only about facts the corpus states; reading comprehension,
paraphrase, sentiment and topic carry everything they need in the prompt. Reading comprehension states
the asked fact for the subject and for three bystanders, so every choice is in the passage; sentiment
reviews and topic.genre texts never contain a choice's words (see ``items`` for the other cues ruled out).
"""

from __future__ import annotations

from .documents import GENRE_KINDS, GENRES, Plan, render_plan
from .items import (
    OCCUPATION_NAMES,
    SIMPLE_RELATIONS,
    Context,
    FamilySpec,
    draw_clean,
    excerpt,
    family,
    options_text,
)
from .phrasing import Fact, article, fact_of, state
from .reference_genres import review_sentences
from .world import City, Organization, Person

GENRE_LABELS = {
    "biography": "biography",
    "news": "news report",
    "dialogue": "dialogue",
    "story": "story",
    "list": "table",
    "math": "math exercise",
    "encyclopedia": "encyclopedia entry",
    "review": "review",
}


# ------------------------------------------------------------------------------- closed-book QA
def _birthplace(ctx: Context, p: Person, t: int):
    choices, answer = ctx.choices(p.birthplace, ctx.distractors(p.birthplace, 3, ctx.world.city_names))
    prompt = (
        f"Question: Where was {p.name} born?\nAnswer:",
        f"{p.name} was born in the city of",
        f"In which city was {p.name} born: {options_text(choices)}?\nAnswer:",
    )[t]
    return prompt, choices, answer


def _occupation(ctx: Context, p: Person, t: int):
    wrong = ctx.distractors(p.occupation, 3, OCCUPATION_NAMES)
    if t < 2:
        choices, answer = ctx.choices(article(p.occupation), [article(o) for o in wrong])
    else:
        choices, answer = ctx.choices(p.occupation, wrong)
    prompt = (
        f"Question: What does {p.name} do for a living?\nAnswer:",
        f"{p.name} works as",
        f"What is the job of {p.name}: {options_text(choices)}?\nAnswer:",
    )[t]
    return prompt, choices, answer


def _headquarters(ctx: Context, o: Organization, t: int):
    choices, answer = ctx.choices(o.hq, ctx.distractors(o.hq, 3, ctx.world.city_names))
    prompt = (
        f"Question: In which city is {o.name} based?\nAnswer:",
        f"The head office of {o.name} is in",
        f"Where does {o.name} have its headquarters: {options_text(choices)}?\nAnswer:",
    )[t]
    return prompt, choices, answer


# ------------------------------------------------------------------------- reading comprehension
RC_QUESTIONS = {
    "birthplace": "Where was {g} born?",
    "home": "Where does {g} live?",
    "employer": "Which company does {g} work for?",
    "food": "What is {g}'s favourite food?",
    "friend": "Who is {g}'s best friend?",
    "occupation": "What is {g}'s job?",
}
# What kind of thing each relation's object is. The subject's other facts avoid the asked kind, so the
# passage names every choice exactly once.
RC_KINDS = {
    "birthplace": "city",
    "home": "city",
    "birth_year": "year",
    "occupation": "job",
    "employer": "org",
    "food": "food",
    "friend": "person",
}


def _bystanders(ctx: Context, p: Person, relation: str) -> list[Person] | None:
    """Three people other than ``p`` whose ``relation`` values differ from ``p``'s and from each other,
    and name no one else involved; from this split when possible. None if the world has too few."""
    w, d = ctx.world, ctx.dice
    taken = {fact_of(w, relation, p.name).obj, p.name}
    chosen: list[Person] = []

    def take(q: Person) -> bool:
        value = fact_of(w, relation, q.name).obj
        if q.name in taken or value in taken:
            return False
        chosen.append(q)
        taken.update((q.name, value))
        return len(chosen) == 3

    for pool in (ctx.people, w.people):
        for _ in range(64):
            if take(d.pick(pool)):
                return chosen
    for q in d.shuffle(list(w.people)):
        if take(q):
            return chosen
    return None


def _reading(ctx: Context, p: Person, t: int):
    """A passage about ``p`` that also states the asked fact for three bystanders, named by given name:
    every choice is in the passage once, and only binding it to the right person answers the question.
    """
    d, w = ctx.dice, ctx.world
    relations = list(RC_QUESTIONS)
    first = d.below(len(relations))
    for asked in relations[first:] + relations[:first]:  # the first the world can fill with bystanders
        bystanders = _bystanders(ctx, p, asked)
        if bystanders is not None:
            break
    else:
        raise ValueError("reading_comprehension.biography needs four people with distinct facts")
    intro, extra = d.sample([r for r in RC_KINDS if RC_KINDS[r] != RC_KINDS[asked]], 2)
    stated = [fact_of(w, asked, q.name) for q in (p, *bystanders)] + [fact_of(w, extra, p.name)]
    body = [state(f, d.below(4), world=w, form="given") for f in stated]
    passage = " ".join([state(fact_of(w, intro, p.name), d.below(4), world=w), *d.shuffle(body)])
    choices, answer = ctx.choices(stated[0].obj, [f.obj for f in stated[1:4]])
    q = RC_QUESTIONS[asked].format(g=p.given)
    prompt = (
        f"{passage}\n\nQuestion: {q}\nAnswer:",
        f"Read the text and answer the question.\n\nText: {passage}\nQuestion: {q}\nAnswer:",
        f"{passage}\n\nAccording to the passage, {q[0].lower() + q[1:]}\nAnswer:",
    )[t]
    return prompt, choices, answer


# ------------------------------------------------------------------------------------ paraphrase
def _paraphrase(ctx: Context, p: Person, t: int):
    d, w = ctx.dice, ctx.world
    f = fact_of(w, d.pick(SIMPLE_RELATIONS), p.name)
    ta = d.below(4)
    tb = ta + 1 + d.below(2)  # a different template of the same relation (templates cycle mod n)
    same = ctx.target == 0
    if same:
        g = f
    elif f.relation in ("birthplace", "home") and p.home != p.birthplace and d.chance(0.4):
        g = Fact("home" if f.relation == "birthplace" else "birthplace", f.subject, f.obj)
    else:
        g = Fact(f.relation, f.subject, ctx.wrong_object(f))
    a = state(f, ta, world=w)
    b = state(g, tb, world=w, form=d.pick(("name", "given")))
    choices = (" yes", " no")
    prompt = (
        f"Sentence 1: {a}\nSentence 2: {b}\nDo these two sentences say the same thing? Yes or no?\nAnswer:",
        f'Does "{a}" mean the same as "{b}"?\nAnswer:',
        f"{a}\n{b}\nAre these two sentences paraphrases of each other?\nAnswer:",
    )[t]
    return prompt, choices, 0 if same else 1


# ------------------------------------------------------------------------------------- sentiment
SENTIMENT_CHOICES = ((" positive", " negative"), (" yes", " no"), (" good", " bad"))


def _sentiment(ctx: Context, o: Organization, t: int):
    positive = ctx.target == 0
    choices = SENTIMENT_CHOICES[t]
    # a review saying "A good day" would hand over the answer " good" by copying
    text = draw_clean(lambda: " ".join(review_sentences(ctx.dice, positive, o.name, o.hq)), choices)
    prompt = (
        f"Review: {text}\nIs this review positive or negative?\nAnswer:",
        f"{text}\nDid the customer like {o.name}?\nAnswer:",
        f"Here is what a customer wrote about {o.name}: {text}\nOverall, the visit was",
    )[t]
    return prompt, choices, ctx.target


# ----------------------------------------------------------------------------------------- topic
def _entities(ctx: Context) -> list[tuple[str, str]]:
    return (
        [("person", p.name) for p in ctx.people]
        + [("city", c.name) for c in ctx.cities]
        + [("org", o.name) for o in ctx.orgs]
    )


def _render(ctx: Context, genre: str, kind: str, subject: str) -> str:
    w, d = ctx.world, ctx.dice
    partner = None
    if genre == "math":
        pool = w.city_names if kind == "city" else tuple(p.name for p in w.people)
        partner = d.sample(pool, 1, exclude=(subject,))[0]
    elif genre == "review":
        partner = d.pick(w.people).name
    return excerpt(render_plan(w, Plan(genre, kind, subject, partner, d.below(1 << 16)), d))


def _genre_anchors(ctx: Context) -> list[tuple[str, str, str]]:
    """``(genre, kind, subject)`` for every entity of the split and every genre that can be about it."""
    return [
        (g, kind, subject)
        for kind, subject in _entities(ctx)
        for g in GENRES
        if any(k == kind for k, _ in GENRE_KINDS[g])
    ]


def _topic_genre(ctx: Context, anchor: tuple[str, str, str], t: int):
    genre, kind, subject = anchor
    # no genre's name in the text ("Customer review: ...", "This is a story about ...")
    text = draw_clean(lambda: _render(ctx, genre, kind, subject), tuple(GENRE_LABELS.values()))
    wrong = ctx.distractors(GENRE_LABELS[genre], 3, tuple(GENRE_LABELS.values()))
    choices, answer = ctx.choices(GENRE_LABELS[genre], wrong)
    listed = options_text(tuple(" " + article(c.strip()) for c in choices))
    prompt = (
        f"{text}\n\nWhat kind of text is this?\nAnswer:",
        f"Text: {text}\nGenre:",
        f"Is the following text {listed}?\n\n{text}\nAnswer:",
    )[t]
    return prompt, choices, answer


TOPIC_KINDS = ("person", "city", "org")
TOPIC_GENRES = {
    "person": ("biography", "news", "dialogue", "story"),
    "city": ("encyclopedia", "dialogue"),
    "org": ("encyclopedia", "news", "dialogue", "review"),
}


def _topic_subject(ctx: Context, anchor: tuple[str, str], t: int):
    kind, subject = anchor  # the answer is the anchor's kind, balanced by the family's label
    text = _render(ctx, ctx.dice.pick(TOPIC_GENRES[kind]), kind, subject)
    answer = TOPIC_KINDS.index(kind)
    prompt, choices = (
        (
            f"{text}\n\nIs this text mainly about a person, a city or a company?\nAnswer:",
            (" a person", " a city", " a company"),
        ),
        (f"Text: {text}\nTopic (person, city or company):", (" person", " city", " company")),
        (
            f"What is the following text about: a person, a city or a company?\n\n{text}\nAnswer:",
            (" a person", " a city", " a company"),
        ),
    )[t]
    return prompt, choices, answer


# ------------------------------------------------------------------------------------ comparison
def _older(ctx: Context, a: Person, t: int):
    b = ctx.partner(a, lambda q: q.born != a.born and ctx.is_stated("birth_year", q.name))
    older, younger = (a, b) if a.born < b.born else (b, a)
    x, y = (older, younger) if ctx.target == 0 else (younger, older)  # every template: 0 iff x is older
    if t == 2:
        return f"Was {x.name} born before {y.name}?\nAnswer:", (" yes", " no"), ctx.target
    prompt = (
        f"Question: Who was born first, {x.name} or {y.name}?\nAnswer:",
        f"Who is older: {x.name} or {y.name}?\nAnswer:",
    )[t]
    return prompt, (" " + x.name, " " + y.name), ctx.target


def _bigger(ctx: Context, a: City, t: int):
    pool = [c for c in ctx.cities if c is not a and ctx.is_stated("population", c.name)]
    pool = pool or [c for c in ctx.world.cities if c is not a and ctx.is_stated("population", c.name)]
    if not pool:
        raise ValueError("comparison.population needs the populations of two cities stated in the corpus")
    b = ctx.dice.pick(pool)
    big, small = (a, b) if a.population > b.population else (b, a)
    # the answer is position 0 iff the first city named is the bigger one (the smaller one for t1)
    x, y = (big, small) if (ctx.target == 0) != (t == 1) else (small, big)
    prompt, choices = (
        (
            f"Question: Which city has more people, {x.name} or {y.name}?\nAnswer:",
            (" " + x.name, " " + y.name),
        ),
        (f"Which city is smaller: {x.name} or {y.name}?\nAnswer:", (" " + x.name, " " + y.name)),
        (f"Does {x.name} have more people than {y.name}?\nAnswer:", (" yes", " no")),
    )[t]
    return prompt, choices, ctx.target


def _stated_people(relation: str):
    return lambda ctx: [p for p in ctx.people if ctx.is_stated(relation, p.name)]


SPECS: tuple[FamilySpec, ...] = (
    family(
        "closed_book_qa.birthplace",
        4,
        _stated_people("birthplace"),
        _birthplace,
        label=lambda p: p.birthplace,
    ),
    family(
        "closed_book_qa.occupation",
        4,
        _stated_people("occupation"),
        _occupation,
        label=lambda p: p.occupation,
    ),
    family(
        "closed_book_qa.headquarters",
        4,
        lambda ctx: [o for o in ctx.orgs if ctx.is_stated("hq", o.name)],
        _headquarters,
        label=lambda o: o.hq,
    ),
    family("reading_comprehension.biography", 4, lambda ctx: ctx.people, _reading),
    family("paraphrase.fact_pair", 2, lambda ctx: ctx.people, _paraphrase),
    family("sentiment.review", 2, lambda ctx: ctx.orgs, _sentiment),
    family("topic.genre", 4, _genre_anchors, _topic_genre, label=lambda a: GENRE_LABELS[a[0]]),
    family("topic.subject", 3, _entities, _topic_subject, label=lambda a: a[0]),
    family("comparison.age", 2, _stated_people("birth_year"), _older),
    family(
        "comparison.population",
        2,
        lambda ctx: [c for c in ctx.cities if ctx.is_stated("population", c.name)],
        _bigger,
    ),
)
