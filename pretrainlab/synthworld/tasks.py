"""The prompted task suite: a registry of families and ``generate_task_items``.

Clusters follow T0: six training clusters (closed-book QA, reading comprehension, paraphrase,
sentiment, topic, comparison) and three held-out ones (NLI, coreference, sentence completion) that
multitask finetuning never sees.

Splits: the world's people, cities and organizations are halved once per seed; "eval" items are about
one half, "train" items about the other, and every prompt names its item's subject, so the two splits
share no item. Item ``i`` uses template ``(i + i // L) mod 3`` for ``L`` anchors (subjects) and anchor
``i mod L`` (anchors shuffled), so ``L * 3`` items cover every (subject, template) pair before any
repeats; a family that declares a gold ``label`` visits its anchors round-robin over labels instead
(:func:`~.items.by_label`), so each label is gold equally often. The gold position of the items of one
template follows a :class:`~.items.Balanced` schedule drawn from its own seeded stream.

>>> items = generate_task_items("comparison.age", 2, entities=40, documents=200, seed=0)
>>> [len(i.choices) for i in items], TASK_FAMILIES["comparison.age"].random_baseline()
([2, 2], 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from .dice import Dice
from .documents import stated_facts
from .held_out_tasks import SPECS as HELD_OUT_SPECS
from .items import Balanced, Context, FamilySpec, TaskFamily, TaskItem, by_label
from .training_tasks import SPECS as TRAINING_SPECS
from .world import World, build_world

T = TypeVar("T")

TRAINING_CLUSTERS = (
    "closed_book_qa",
    "reading_comprehension",
    "paraphrase",
    "sentiment",
    "topic",
    "comparison",
)
HELD_OUT_CLUSTERS = ("nli", "coreference", "sentence_completion")
SPLITS = ("eval", "train")


def _registry(specs: Sequence[FamilySpec]) -> dict[str, FamilySpec]:
    out: dict[str, FamilySpec] = {}
    for spec in specs:
        name = spec.family.name
        if name in out:
            raise ValueError(f"task family {name!r} registered twice")
        expected = HELD_OUT_CLUSTERS if spec.family.held_out else TRAINING_CLUSTERS
        if spec.family.cluster not in expected:
            raise ValueError(f"task family {name!r}: cluster {spec.family.cluster!r} not in {expected}")
        out[name] = spec
    return out


_SPECS = _registry((*TRAINING_SPECS, *HELD_OUT_SPECS))
TASK_FAMILIES: dict[str, TaskFamily] = {name: spec.family for name, spec in _SPECS.items()}


def _half(dice: Dice, items: Sequence[T], split: str) -> tuple[T, ...]:
    order = dice.shuffle(list(range(len(items))))
    keep = 0 if split == "eval" else 1
    return tuple(items[i] for i in sorted(order[keep::2]))


def split_context(
    world: World, seed: int, split: str, stated: Mapping[tuple[str, str], int], dice: Dice
) -> Context:
    """The generator context of ``split``: its half of the people, cities and organizations."""
    halves = Dice.from_seed(seed, "split")  # the same halving for both splits
    return Context(
        world=world,
        stated=stated,
        dice=dice,
        people=_half(halves, world.people, split),
        cities=_half(halves, world.cities, split),
        orgs=_half(halves, world.organizations, split),
    )


def generate_task_items(
    task: str, n: int, *, entities: int, documents: int, seed: int, split: str = "eval"
) -> list[TaskItem]:
    """``n`` items of family ``task`` for the world and corpus ``(entities, documents, seed)``.

    Deterministic in all arguments. Closed-book and comparison items only ask about facts the corpus
    of ``documents`` documents states. Raises ``KeyError`` for an unknown task, ``ValueError`` for a bad
    split or when the corpus states nothing the task could ask about.
    """
    if task not in _SPECS:
        raise KeyError(f"unknown synthworld task {task!r}; valid tasks: {', '.join(_SPECS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    spec = _SPECS[task]
    world = build_world(entities, seed)
    ctx = split_context(
        world,
        seed,
        split,
        stated_facts(documents, entities, seed),
        Dice.from_seed(seed, "tasks", task, split),
    )
    anchors = list(spec.anchors(ctx))
    if not anchors and n > 0:
        raise ValueError(
            f"task {task!r}: the corpus (documents={documents}, entities={entities}, seed={seed}) "
            f"states nothing it can ask about in split {split!r}; generate more documents"
        )
    ctx.dice.shuffle(anchors)
    fam = spec.family
    order = anchors
    if spec.label is not None:
        order = by_label(anchors, spec.label, n, ctx.dice)
        ctx.labels = tuple(dict.fromkeys(spec.label(a) for a in anchors))
    positions = Dice.from_seed(seed, "positions", task, split)
    schedules = [Balanced(positions, fam.num_choices) for _ in fam.templates]
    items = []
    for i in range(n):
        t = (i + i // len(anchors)) % len(fam.templates)
        ctx.target = schedules[t].next()
        prompt, choices, answer = spec.make(ctx, order[i % len(order)], t)
        items.append(TaskItem(fam.name, fam.cluster, fam.templates[t], prompt, choices, answer, fam.held_out))
    return items
