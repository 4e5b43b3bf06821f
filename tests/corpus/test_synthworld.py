"""synthworld: determinism, genres, fact coverage and phrasings, and the prompted task suite."""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import subprocess
import sys
import textwrap

import pytest

from pretrainlab import synthworld
from pretrainlab.synthworld import (
    GENRES,
    HELD_OUT_CLUSTERS,
    TASK_FAMILIES,
    TRAINING_CLUSTERS,
    build_world,
    fact_of,
    generate_corpus,
    generate_documents,
    generate_task_items,
    phrasings,
    stated_facts,
)

ENTITIES, DOCUMENTS, SEED = 60, 400, 3
WORLD = dict(entities=ENTITIES, documents=DOCUMENTS, seed=SEED)


@pytest.fixture(scope="module")
def corpus():
    return list(generate_corpus(DOCUMENTS, ENTITIES, SEED))


@pytest.fixture(scope="module")
def world():
    return build_world(ENTITIES, SEED)


def _digest(texts) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()


def _items_digest(seed: int) -> str:
    parts = []
    for name in TASK_FAMILIES:
        for it in generate_task_items(name, 6, entities=ENTITIES, documents=DOCUMENTS, seed=seed):
            parts.append(repr(it))
    return _digest(parts)


# ----------------------------------------------------------------------------------- determinism
def test_signature_is_what_the_corpus_stage_calls():
    assert list(inspect.signature(generate_documents).parameters) == ["documents", "entities", "seed"]


def test_same_seed_gives_identical_documents_and_items_and_other_seeds_differ():
    a = list(generate_documents(documents=150, entities=ENTITIES, seed=SEED))
    assert a == list(generate_documents(documents=150, entities=ENTITIES, seed=SEED))
    assert a != list(generate_documents(documents=150, entities=ENTITIES, seed=SEED + 1))
    assert _items_digest(SEED) == _items_digest(SEED)
    assert _items_digest(SEED) != _items_digest(SEED + 1)


def test_output_does_not_depend_on_pythonhashseed():
    code = textwrap.dedent(
        f"""
        import hashlib
        from pretrainlab.synthworld import TASK_FAMILIES, generate_documents, generate_task_items
        docs = list(generate_documents({DOCUMENTS}, {ENTITIES}, {SEED}))
        items = [repr(i) for n in TASK_FAMILIES for i in generate_task_items(n, 6, entities={ENTITIES}, documents={DOCUMENTS}, seed={SEED})]
        print(hashlib.sha256("\\x00".join(docs).encode()).hexdigest())
        print(hashlib.sha256("\\x00".join(items).encode()).hexdigest())
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [_digest(generate_documents(DOCUMENTS, ENTITIES, SEED)), _items_digest(SEED)]


# ---------------------------------------------------------------------------------------- corpus
def test_document_count_length_and_genres(corpus):
    texts = list(generate_documents(DOCUMENTS, ENTITIES, SEED))
    assert len(texts) == DOCUMENTS and [d.text for d in corpus] == texts
    assert min(len(t) for t in texts) >= 40
    assert 200 <= sorted(len(t) for t in texts)[len(texts) // 2] <= 1500
    present = {d.genre for d in corpus}
    assert len(present) >= 6 and present <= set(GENRES)
    # what a reader sees: each genre has its form
    looks = {
        "dialogue": lambda t: re.search(r"^\w+: .+\?$", t, re.M),
        "news": lambda t: re.search(r"^[A-Z]+, \d{4} — ", t, re.M),
        "list": lambda t: re.search(r"^(- |1\. |\w+ \| )", t, re.M),
        "math": lambda t: re.search(r"\d+ (more|fewer|years)|difference|same year", t),
        "review": lambda t: "Rating:" in t,
    }
    for genre, look in looks.items():
        docs = [d.text for d in corpus if d.genre == genre]
        assert docs and all(look(t) for t in docs), genre


def test_tracked_facts_are_really_in_the_text(corpus, world):
    for doc in corpus:
        for relation, subject in doc.facts:
            fact = fact_of(world, relation, subject)
            assert fact.obj in doc.text, (relation, subject, doc.text)
            if doc.genre != "list":  # tables state facts as rows, the rest in template sentences
                assert any(s in doc.text for s in phrasings(world, fact)), (relation, subject, doc.text)


def test_every_askable_fact_is_stated_twice_in_different_phrasings(corpus, world):
    counts = stated_facts(DOCUMENTS, ENTITIES, SEED)
    askable = [("birthplace", p.name) for p in world.people] + [("occupation", p.name) for p in world.people]
    askable += [("birth_year", p.name) for p in world.people] + [("population", c.name) for c in world.cities]
    askable += [("hq", o.name) for o in world.organizations]
    assert all(counts.get(f, 0) >= 2 for f in askable)
    for relation, subject in askable[:: max(1, len(askable) // 25)]:
        found = {
            s for s in phrasings(world, fact_of(world, relation, subject)) for d in corpus if s in d.text
        }
        assert len(found) >= 2, (relation, subject, found)


def test_small_corpus_is_best_effort_and_tasks_only_ask_what_it_states(world):
    small = 20  # fewer documents than entities: coverage is partial
    counts = stated_facts(small, ENTITIES, SEED)
    assert 0 < sum(1 for p in world.people if ("birthplace", p.name) in counts) < len(world.people)
    texts = list(generate_documents(small, ENTITIES, SEED))
    for item in generate_task_items(
        "closed_book_qa.birthplace", 20, entities=ENTITIES, documents=small, seed=SEED
    ):
        person = next(p for p in world.people if p.name in item.prompt)
        assert ("birthplace", person.name) in counts
        assert any(person.name in t and person.birthplace in t for t in texts)


def test_world_is_consistent(world):
    assert len(world.people) + len(world.cities) + len(world.organizations) + len(world.countries) == ENTITIES
    names = [p.name for p in world.people] + [p.given for p in world.people] + list(world.city_names)
    names += list(world.organization_names) + list(world.countries)
    assert len(names) == len(set(names))
    orgs = {o.name: o for o in world.organizations}
    assert all(p.joined >= orgs[p.employer].founded and p.joined - p.born >= 18 for p in world.people)
    assert all(world.person(o.founder).born < o.founded for o in world.organizations)
    assert len({c.population for c in world.cities}) == len(world.cities)
    with pytest.raises(ValueError, match="entities"):
        build_world(10, 0)


# ----------------------------------------------------------------------------------------- tasks
def test_registry_shape():
    clusters = {f.cluster for f in TASK_FAMILIES.values()}
    assert len(TASK_FAMILIES) >= 9 and len(clusters) >= 6
    assert set(HELD_OUT_CLUSTERS) == {"nli", "coreference", "sentence_completion"}
    assert {f.cluster for f in TASK_FAMILIES.values() if f.held_out} == set(HELD_OUT_CLUSTERS)
    assert {f.cluster for f in TASK_FAMILIES.values() if not f.held_out} == set(TRAINING_CLUSTERS)
    for name, fam in TASK_FAMILIES.items():
        assert fam.name == name and len(fam.templates) >= 3 and fam.num_choices >= 2
        assert fam.random_baseline() == pytest.approx(1 / fam.num_choices)


def test_unknown_task_lists_valid_names():
    with pytest.raises(KeyError, match="closed_book_qa.birthplace"):
        generate_task_items("no.such_task", 3, **WORLD)


@pytest.mark.parametrize("name", list(TASK_FAMILIES))
def test_every_item_is_well_formed(name):
    fam = TASK_FAMILIES[name]
    items = generate_task_items(name, 30, **WORLD)
    assert len(items) == 30 and {i.template for i in items} == set(fam.templates)
    for it in items:
        assert (it.task, it.cluster, it.held_out) == (fam.name, fam.cluster, fam.held_out)
        assert len(it.choices) == fam.num_choices and len(set(it.choices)) == fam.num_choices
        assert 0 <= it.answer < fam.num_choices
        assert all(c.startswith(" ") and not c.startswith("  ") for c in it.choices)
        assert it.prompt == it.prompt.rstrip() and len(it.prompt) < 1200
    answers = [it.answer for it in items]
    assert len(set(answers)) > 1, "the correct position varies"


def _mentioned(names, prompt):
    return [n for n in names if n in prompt]


@pytest.mark.parametrize(
    ("name", "relation", "truth"),
    [
        ("closed_book_qa.birthplace", "birthplace", lambda p: p.birthplace),
        ("closed_book_qa.occupation", "occupation", lambda p: p.occupation),
        ("closed_book_qa.headquarters", "hq", lambda o: o.hq),
    ],
)
def test_closed_book_answers_are_true_and_stated_in_the_corpus(name, relation, truth, corpus, world):
    pool = world.organizations if relation == "hq" else world.people
    for it in generate_task_items(name, 24, **WORLD):
        (subject,) = [e for e in pool if e.name in it.prompt]
        correct = it.choices[it.answer].strip()
        assert correct.removeprefix("a ").removeprefix("an ") == truth(subject)
        assert any(subject.name in d.text and truth(subject) in d.text for d in corpus)


def test_comparisons_are_right_and_their_facts_stated(world):
    counts = stated_facts(DOCUMENTS, ENTITIES, SEED)
    for it in generate_task_items("comparison.age", 24, **WORLD):
        a, b = (
            world.person(n)
            for n in sorted(_mentioned([p.name for p in world.people], it.prompt), key=it.prompt.index)
        )
        assert ("birth_year", a.name) in counts and ("birth_year", b.name) in counts
        older = a if a.born < b.born else b
        if it.template == "t2":  # "Was A born before B?"
            assert it.choices[it.answer] == (" yes" if older is a else " no")
        elif "older" in it.prompt or "first" in it.prompt:
            assert it.choices[it.answer] == " " + older.name
    for it in generate_task_items("comparison.population", 24, **WORLD):
        a, b = (world.city(n) for n in sorted(_mentioned(world.city_names, it.prompt), key=it.prompt.index))
        bigger, smaller = (a, b) if a.population > b.population else (b, a)
        expected = {"t0": " " + bigger.name, "t1": " " + smaller.name, "t2": " yes" if bigger is a else " no"}
        assert it.choices[it.answer] == expected[it.template]


def test_prompted_tasks_are_answerable_from_the_prompt(world):
    for it in generate_task_items("reading_comprehension.biography", 30, **WORLD):
        assert it.choices[it.answer].strip() in it.prompt
    for it in generate_task_items("nli.fact", 30, **WORLD):
        assert all(c.strip() in it.prompt.lower() for c in it.choices)
    for name in ("coreference.gender", "coreference.role"):
        for it in generate_task_items(name, 30, **WORLD):
            assert all(c.strip() in it.prompt for c in it.choices)
            referent = world.person(it.choices[it.answer].strip())
            pronoun = re.search(r'"(he|she)"', it.prompt).group(1)
            assert referent.pronoun == pronoun
            if name == "coreference.role":
                assert referent.job.base in it.prompt
    for it in generate_task_items("sentence_completion.occupation", 20, **WORLD):
        (person,) = [p for p in world.people if p.name in it.prompt]
        assert it.choices[it.answer] == f" {person.job.past}."


def test_reading_comprehension_states_every_choice_once_for_a_different_person(world):
    from pretrainlab.synthworld.training_tasks import RC_QUESTIONS

    for it in generate_task_items("reading_comprehension.biography", 40, **WORLD):
        # the subject is named in full and asked about (first letter aside: one template lowercases it)
        ((subject, asked),) = [
            (p, r)
            for p in world.people
            if p.name in it.prompt
            for r, q in RC_QUESTIONS.items()
            if q.format(g=p.given)[1:] in it.prompt
        ]
        assert it.choices[it.answer].strip() == fact_of(world, asked, subject.name).obj
        for j, choice in enumerate(it.choices):
            value = choice.strip()
            assert len(re.findall(rf"(?<!\w){re.escape(value)}(?!\w)", it.prompt)) == 1, (value, it.prompt)
            if j != it.answer:  # a distractor is the same fact of someone else the passage names
                holders = [p for p in world.people if fact_of(world, asked, p.name).obj == value]
                assert subject not in holders
                assert any(re.search(rf"\b{p.given}\b", it.prompt) for p in holders), (value, it.prompt)


def test_sentiment_labels_follow_the_lexicon():
    from pretrainlab.synthworld.lexicon import SENTIMENT

    positive_words = {w for good, _ in SENTIMENT.values() for w in good}
    negative_words = {w for _, bad in SENTIMENT.values() for w in bad}
    for it in generate_task_items("sentiment.review", 40, **WORLD):
        words = set(re.findall(r"[a-z_]+", it.prompt.replace("not ", "not_")))
        negated = {w[4:] for w in words if w.startswith("not_")}
        pos = len(words & positive_words) + len(negated & negative_words)
        neg = len(words & negative_words) + len(negated & positive_words)
        assert (pos > neg) == (it.answer == 0)


@pytest.mark.parametrize("name", list(TASK_FAMILIES))
def test_train_and_eval_splits_share_no_item(name):
    def keys(split):
        return {(i.prompt, i.answer) for i in generate_task_items(name, 60, **WORLD, split=split)}

    evaluation, train = keys("eval"), keys("train")
    assert evaluation and train and not evaluation & train
    assert {i.prompt for i in generate_task_items(name, 5, **WORLD, split="train")} == {
        i.prompt for i in generate_task_items(name, 5, **WORLD, split="train")
    }
    with pytest.raises(ValueError, match="split"):
        generate_task_items(name, 1, **WORLD, split="test")


def test_public_api_is_exported():
    for name in synthworld.__all__:
        assert hasattr(synthworld, name)
    assert synthworld.HELD_OUT_CLUSTERS == ("nli", "coreference", "sentence_completion")
