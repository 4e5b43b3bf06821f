"""synthworld — a seeded fictional world, a corpus stating its facts, and a prompted task suite.

A controlled research instrument: every fact, phrasing and task answer is known. Pure Python + numpy,
deterministic from the seed (byte-identical output whatever ``PYTHONHASHSEED`` is), no network.

    >>> from pretrainlab import synthworld
    >>> texts = list(synthworld.generate_documents(documents=100, entities=40, seed=0))
    >>> items = synthworld.generate_task_items("nli.fact", 5, entities=40, documents=100, seed=0)

Modules: ``world`` (entities and facts), ``names`` (syllable names), ``lexicon`` (closed word lists and
commonsense rules), ``phrasing`` (fact templates), ``pen`` + ``person_genres`` + ``reference_genres``
(the eight genres), ``documents`` (the planned stream and its coverage), ``items`` + ``training_tasks`` +
``held_out_tasks`` + ``tasks`` (the task suite).
"""

from .documents import GENRES, Document, generate_corpus, generate_documents, stated_facts
from .items import TaskFamily, TaskItem
from .phrasing import Fact, fact_of, phrasings
from .tasks import HELD_OUT_CLUSTERS, TASK_FAMILIES, TRAINING_CLUSTERS, generate_task_items
from .world import World, build_world

__all__ = [
    "GENRES",
    "HELD_OUT_CLUSTERS",
    "TASK_FAMILIES",
    "TRAINING_CLUSTERS",
    "Document",
    "Fact",
    "TaskFamily",
    "TaskItem",
    "World",
    "build_world",
    "fact_of",
    "generate_corpus",
    "generate_documents",
    "generate_task_items",
    "phrasings",
    "stated_facts",
]
