"""Task families of the training clusters (used by multitask finetuning and evaluated too).

closed-book QA and comparison ask only about facts the corpus states; reading comprehension,
paraphrase, sentiment and topic carry everything they need in the prompt.
"""

from __future__ import annotations

from .documents import GENRE_KINDS, GENRES, Plan, render_plan
from .items import OCCUPATION_NAMES, SIMPLE_RELATIONS, Context, FamilySpec, excerpt, family, options_text
from .lexicon import FOODS
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
    choices, answer = ctx.choices(
        p.birthplace, ctx.dice.sample(ctx.world.city_names, 3, exclude=(p.birthplace,))
    )
    prompt = (
        f"Question: Where was {p.name} born?\nAnswer:",
        f"{p.name} was born in the city of",
        f"In which city was {p.name} born: {options_text(choices)}?\nAnswer:",
    )[t]
    return prompt, choices, answer


def _occupation(ctx: Context, p: Person, t: int):
    wrong = ctx.dice.sample(OCCUPATION_NAMES, 3, exclude=(p.occupation,))
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
    choices, answer = ctx.choices(o.hq, ctx.dice.sample(ctx.world.city_names, 3, exclude=(o.hq,)))
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


def _reading(ctx: Context, p: Person, t: int):
    d, w = ctx.dice, ctx.world
    asked = d.pick(tuple(RC_QUESTIONS))
    others = d.sample(
        [
            r
            for r in ("birthplace", "birth_year", "home", "occupation", "employer", "food", "friend")
            if r != asked
        ],
        3,
    )
    relations = d.shuffle([asked, *others])
    sentences = [
        state(
            fact_of(w, r, p.name),
            d.below(4),
            world=w,
            form="name" if i == 0 else d.pick(("pronoun", "given")),
        )
        for i, r in enumerate(relations)
    ]
    if "employer" in relations and d.chance(0.7):
        org = w.organization(p.employer)
        sentences.append(f"{org.name} is based in {org.hq}.")
    passage = " ".join(sentences)
    truth = fact_of(w, asked, p.name).obj
    if asked in ("birthplace", "home"):
        near = [
            c for c in (p.home, p.birthplace, w.organization(p.employer).hq) if c != truth and c in passage
        ]
        near = list(dict.fromkeys(near))[:2]
        wrong = near + d.sample(w.city_names, 3 - len(near), exclude=(truth, *near))
    else:
        pool = {"employer": w.organization_names, "food": FOODS, "occupation": OCCUPATION_NAMES}.get(asked)
        pool = pool or tuple(q.name for q in w.people)
        wrong = d.sample(pool, 3, exclude=(truth,))
    choices, answer = ctx.choices(truth, wrong)
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
    same = d.chance(0.5)
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
def _sentiment(ctx: Context, o: Organization, t: int):
    positive = ctx.dice.chance(0.5)
    text = " ".join(review_sentences(ctx.dice, positive, o.name, o.hq))
    prompt, choices = (
        (f"Review: {text}\nIs this review positive or negative?\nAnswer:", (" positive", " negative")),
        (f"{text}\nDid the customer like {o.name}?\nAnswer:", (" yes", " no")),
        (f"Here is what a customer wrote about {o.name}: {text}\nOverall, the visit was", (" good", " bad")),
    )[t]
    return prompt, choices, 0 if positive else 1


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


def _topic_genre(ctx: Context, anchor: tuple[str, str], t: int):
    kind, subject = anchor
    genre = ctx.dice.pick([g for g in GENRES if any(k == kind for k, _ in GENRE_KINDS[g])])
    text = _render(ctx, genre, kind, subject)
    wrong = ctx.dice.sample([GENRE_LABELS[g] for g in GENRES if g != genre], 3)
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
    kind, subject = anchor
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
    x, y = (a, b) if ctx.dice.chance(0.5) else (b, a)
    if t == 2:
        return f"Was {x.name} born before {y.name}?\nAnswer:", (" yes", " no"), 0 if x.born < y.born else 1
    prompt = (
        f"Question: Who was born first, {x.name} or {y.name}?\nAnswer:",
        f"Who is older: {x.name} or {y.name}?\nAnswer:",
    )[t]
    return prompt, (" " + x.name, " " + y.name), 0 if x.born < y.born else 1


def _bigger(ctx: Context, a: City, t: int):
    pool = [c for c in ctx.cities if c is not a and ctx.is_stated("population", c.name)]
    pool = pool or [c for c in ctx.world.cities if c is not a and ctx.is_stated("population", c.name)]
    if not pool:
        raise ValueError("comparison.population needs the populations of two cities stated in the corpus")
    b = ctx.dice.pick(pool)
    x, y = (a, b) if ctx.dice.chance(0.5) else (b, a)
    bigger_first = x.population > y.population
    if t == 0:
        return (
            f"Question: Which city has more people, {x.name} or {y.name}?\nAnswer:",
            (" " + x.name, " " + y.name),
            0 if bigger_first else 1,
        )
    if t == 1:
        return (
            f"Which city is smaller: {x.name} or {y.name}?\nAnswer:",
            (" " + x.name, " " + y.name),
            1 if bigger_first else 0,
        )
    return (
        f"Does {x.name} have more people than {y.name}?\nAnswer:",
        (" yes", " no"),
        0 if bigger_first else 1,
    )


def _stated_people(relation: str):
    return lambda ctx: [p for p in ctx.people if ctx.is_stated(relation, p.name)]


SPECS: tuple[FamilySpec, ...] = (
    family("closed_book_qa.birthplace", 4, _stated_people("birthplace"), _birthplace),
    family("closed_book_qa.occupation", 4, _stated_people("occupation"), _occupation),
    family(
        "closed_book_qa.headquarters",
        4,
        lambda ctx: [o for o in ctx.orgs if ctx.is_stated("hq", o.name)],
        _headquarters,
    ),
    family("reading_comprehension.biography", 4, lambda ctx: ctx.people, _reading),
    family("paraphrase.fact_pair", 2, lambda ctx: ctx.people, _paraphrase),
    family("sentiment.review", 2, lambda ctx: ctx.orgs, _sentiment),
    family("topic.genre", 4, _entities, _topic_genre),
    family("topic.subject", 3, _entities, _topic_subject),
    family("comparison.age", 2, _stated_people("birth_year"), _older),
    family(
        "comparison.population",
        2,
        lambda ctx: [c for c in ctx.cities if ctx.is_stated("population", c.name)],
        _bigger,
    ),
)
