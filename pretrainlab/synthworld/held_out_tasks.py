"""Task families of the held-out clusters: zero-shot only, never seen in multitask finetuning.

NLI and coreference are answerable from the prompt alone (coreference.role also uses the corpus rule
"a baker bakes fresh bread"); sentence completion relies on the world's commonsense, which the corpus
states: what each occupation does, and the cause-effect episodes of its stories.
"""

from __future__ import annotations

from .items import OCCUPATION_NAMES, SIMPLE_RELATIONS, Context, FamilySpec, family
from .lexicon import CAUSE_EFFECT, OCCUPATION_BY_NAME
from .pen import cap
from .phrasing import Fact, article, fact_of, state
from .world import Person

# ------------------------------------------------------------------------------------------- NLI
NLI_CHOICES = ((" yes", " maybe", " no"), (" true", " neither", " false"), (" yes", " maybe", " no"))


def _nli(ctx: Context, p: Person, t: int):
    d, w = ctx.dice, ctx.world
    premise_relations = d.sample(SIMPLE_RELATIONS, 3)
    used = [d.below(4) for _ in premise_relations]
    premise = " ".join(
        state(fact_of(w, r, p.name), k, world=w, form="name" if i == 0 else "pronoun")
        for i, (r, k) in enumerate(zip(premise_relations, used, strict=True))
    )
    label = ctx.target  # 0 entailed, 1 neutral, 2 contradicted
    if label == 1:
        relation = d.pick([r for r in SIMPLE_RELATIONS if r not in premise_relations])
        f = fact_of(w, relation, p.name)
        hypothesis = Fact(relation, p.name, f.obj if d.chance(0.5) else ctx.wrong_object(f))
        template = d.below(4)
    else:
        i = d.below(len(premise_relations))
        f = fact_of(w, premise_relations[i], p.name)
        hypothesis = f if label == 0 else Fact(f.relation, p.name, ctx.wrong_object(f))
        template = used[i] + 1 + d.below(2)  # restate in other words than the premise
    hyp = state(hypothesis, template, world=w, form=d.pick(("name", "given")))
    prompt = (
        f"{premise}\nQuestion: {hyp} Yes, no, or maybe?\nAnswer:",
        f"Premise: {premise}\nHypothesis: {hyp}\nIs the hypothesis true, false, or neither?\nAnswer:",
        f'Given that "{premise}" Is it guaranteed that "{hyp}"? Yes, no, or maybe?\nAnswer:',
    )[t]
    return prompt, NLI_CHOICES[t], label


# ----------------------------------------------------------------------------------- coreference
GENDER_SENTENCES = (
    "{X} called {Y} because {p} needed help with a map.",
    "{X} met {Y} at the market, and {p} bought a bag of plums.",
    "{X} wrote to {Y} after {p} moved to {city}.",
    "{X} and {Y} walked home together, and {p} carried the umbrella.",
    "{X} visited {Y} on Sunday; {p} had baked bread that morning.",
    "{X} waved at {Y} when {p} came out of the library.",
)
ROLE_SENTENCES = (
    "{X} and {Y} talked for an hour, and {p} explained how to {act}.",
    "When {X} visited {Y}, {p} showed how to {act}.",
    "{X} met {Y} at the station, and {p} said it was time to {act}.",
    "{X} sat next to {Y} on the bus; {p} had to {act} that afternoon.",
)


def _coref_frame(ctx: Context, a: Person, b: Person) -> tuple[Person, Person, Person, tuple[str, ...], int]:
    """Sentence order (X, Y), the referent, choices in sentence order and the answer index."""
    x, y = (a, b) if ctx.dice.chance(0.5) else (b, a)
    return x, y, (x, y)[ctx.target], (" " + x.given, " " + y.given), ctx.target


def _coref_gender(ctx: Context, a: Person, t: int):
    b = ctx.partner(a, lambda q: q.female != a.female and q.given != a.given)
    x, y, r, choices, answer = _coref_frame(ctx, a, b)
    sentence = ctx.dice.pick(GENDER_SENTENCES).format(X=x.given, Y=y.given, p=r.pronoun, city=r.home)
    first, second = (a, b) if ctx.dice.chance(0.5) else (b, a)

    def noun(q: Person) -> str:
        return "woman" if q.female else "man"

    prompt = (
        f"{first.given} is a {noun(first)} and {second.given} is a {noun(second)}. {sentence}\n"
        f'Who does "{r.pronoun}" refer to?\nAnswer:',
        f"{sentence}\n(Note: {first.given} is a {noun(first)}; {second.given} is a {noun(second)}.)\n"
        f'In this sentence, "{r.pronoun}" means',
        f"{first.given} ({first.pronoun}/{first.object_pronoun}) and {second.given} ({second.pronoun}/{second.object_pronoun}).\n"
        f'{sentence}\nQuestion: Who is "{r.pronoun}"?\nAnswer:',
    )[t]
    return prompt, choices, answer


def _coref_role(ctx: Context, a: Person, t: int):
    b = ctx.partner(a, lambda q: q.female == a.female and q.occupation != a.occupation and q.given != a.given)
    x, y, r, choices, answer = _coref_frame(ctx, a, b)
    sentence = ctx.dice.pick(ROLE_SENTENCES).format(X=x.given, Y=y.given, p=r.pronoun, act=r.job.base)
    first, second = (a, b) if ctx.dice.chance(0.5) else (b, a)
    prompt = (
        f"{first.given} is {article(first.occupation)} and {second.given} is {article(second.occupation)}. "
        f'{sentence}\nWho does "{r.pronoun}" refer to?\nAnswer:',
        f"{sentence}\n({first.given} works as {article(first.occupation)}; {second.given} works as "
        f'{article(second.occupation)}.)\nIn this sentence, "{r.pronoun}" means',
        f"Roles: {first.given} — {first.occupation}, {second.given} — {second.occupation}.\n"
        f'{sentence}\nQuestion: Who is "{r.pronoun}"?\nAnswer:',
    )[t]
    return prompt, choices, answer


# --------------------------------------------------------------------------- sentence completion
def _completion_occupation(ctx: Context, p: Person, t: int):
    wrong = ctx.distractors(p.occupation, 3, OCCUPATION_NAMES)
    choices, answer = ctx.choices(p.job.past + ".", [OCCUPATION_BY_NAME[w].past + "." for w in wrong])
    prompt = (
        f"{p.name} works as {article(p.occupation)}. On Monday morning, {p.given}",
        f"{p.name} is {article(p.occupation)} at {p.employer}. Which ending is most likely?\n{p.given} went to work and",
        f"Complete the story: {p.name}, {article(p.occupation)} from {p.home}, started the day early. Then {p.pronoun}",
    )[t]
    return prompt, choices, answer


def _clause(text: str, p: Person) -> str:
    return text.format(x=p.pronoun, poss=p.possessive)


def _completion_cause_effect(ctx: Context, p: Person, t: int):
    rule, other = ctx.dice.sample(range(len(CAUSE_EFFECT)), 2)
    (cause, effect), (other_cause, other_effect) = CAUSE_EFFECT[rule], CAUSE_EFFECT[other]
    if t == 1:
        choices, answer = ctx.choices(_clause(cause, p) + ".", [_clause(other_cause, p) + "."])
        prompt = f"Here is something that happened to {p.name}. {cap(_clause(effect, p))}. What was the cause?\nAnswer:"
        return prompt, choices, answer
    if t == 0:
        choices, answer = ctx.choices(_clause(effect, p) + ".", [_clause(other_effect, p) + "."])
        return f"{p.name} had a long day. {cap(_clause(cause, p))}, so", choices, answer
    choices, answer = ctx.choices(cap(_clause(effect, p)) + ".", [cap(_clause(other_effect, p)) + "."])
    return (
        f"{p.name} had a quiet evening. {cap(_clause(cause, p))}. What happened next?\nAnswer:",
        choices,
        answer,
    )


SPECS: tuple[FamilySpec, ...] = (
    family("nli.fact", 3, lambda ctx: ctx.people, _nli, held_out=True),
    family("coreference.gender", 2, lambda ctx: ctx.people, _coref_gender, held_out=True),
    family("coreference.role", 2, lambda ctx: ctx.people, _coref_role, held_out=True),
    family(
        "sentence_completion.occupation",
        4,
        lambda ctx: ctx.people,
        _completion_occupation,
        held_out=True,
        label=lambda p: p.occupation,
    ),
    family(
        "sentence_completion.cause_effect", 2, lambda ctx: ctx.people, _completion_cause_effect, held_out=True
    ),
)
