"""T0's task clusters, shipped as data (``t0_clusters.json``), and the held-out discipline of a finetune
cell's ``sources:``.

Every prompted source declares the cluster of its task. The evaluation holds out T0's held-out clusters
(NLI, coreference, sentence completion, word sense) and synthworld's (:data:`HELD_OUT_CLUSTERS`); a source
in one of them, or one that names a held-out dataset (``super_glue/rte``, P3's ``super_glue_rte_*``)
whatever cluster it declares, is refused at validate time.

>>> sorted(T0.held_out)
['coreference', 'nli', 'sentence_completion', 'word_sense']
>>> held_out_dataset("super_glue_rte_GPT_3_style", "super_glue/rte")
('super_glue/rte', 'nli')
>>> held_out_dataset("ag_news_classify") is None
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pretrainlab.synthworld import HELD_OUT_CLUSTERS

DATA_FILE = Path(__file__).with_name("t0_clusters.json")


@dataclass(frozen=True)
class Clusters:
    """Cluster name -> its datasets (Hugging Face ids), for training and held out."""

    training: dict[str, tuple[str, ...]]
    held_out: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, path: Path = DATA_FILE) -> Clusters:
        raw = json.loads(Path(path).read_text())
        return cls(
            {name: tuple(ids) for name, ids in raw["training"].items()},
            {name: tuple(ids) for name, ids in raw["held_out"].items()},
        )


T0 = Clusters.load()


def held_out_clusters() -> frozenset[str]:
    """The clusters the evaluation holds out: T0's and synthworld's."""
    return frozenset(T0.held_out) | frozenset(HELD_OUT_CLUSTERS)


def known_clusters() -> tuple[str, ...]:
    return tuple(sorted({*T0.training, *held_out_clusters()}))


def _p3_prefix(dataset: str) -> str:
    return dataset.replace("/", "_") + "_"


def held_out_dataset(*names: str | None) -> tuple[str, str] | None:
    """(dataset id, cluster) of a held-out dataset that one of ``names`` denotes — the id itself, or a P3
    subset of it (``anli_GPT_3_style_r1``, ``super_glue_rte_...``) — or None."""
    for cluster, datasets in T0.held_out.items():
        for dataset in datasets:
            for name in names:
                if name and (name == dataset or name.startswith((_p3_prefix(dataset), dataset + "/"))):
                    return dataset, cluster
    return None


def _names_of(source: Any) -> tuple[str | None, ...]:
    """What a source is called: its task, its hub id with and without its config, its folder's name."""
    path, config = getattr(source, "path", None), getattr(source, "name", None)
    hub_id = f"{path}/{config}" if path and config else None
    return (source.task, config, path, hub_id, Path(path).name if path else None)


def source_errors(key: str, sources: Sequence[Any]) -> list[str]:
    """``"<key>[i].<field>: message"`` lines for sources that break the held-out discipline, declare an
    unknown cluster, or repeat a task name (each source is one task of the mixture)."""
    errors: list[str] = []
    held_out, known = held_out_clusters(), known_clusters()
    tasks: dict[str, int] = {}
    synthworld = [i for i, s in enumerate(sources) if s.kind == "synthworld"]
    if len(synthworld) > 1:
        errors.append(f"{key}[{synthworld[1]}]: synthworld's tasks are already in the mixture ({key}[0..])")
    for i, source in enumerate(sources):
        if source.kind == "synthworld":
            continue  # its own clusters: synthworld's training clusters only (finetuning.mixture)
        where = f"{key}[{i}]"
        if source.cluster in held_out:
            errors.append(
                f"{where}.cluster: {source.cluster!r} is held out by the evaluation (held-out clusters: "
                f"{', '.join(sorted(held_out))}); finetuning on it would leak the zero-shot tasks"
            )
        elif source.cluster not in known:
            errors.append(f"{where}.cluster: unknown cluster {source.cluster!r}; known: {', '.join(known)}")
        elif found := held_out_dataset(*_names_of(source)):
            errors.append(
                f"{where}: {found[0]!r} is a held-out dataset of T0 (cluster {found[1]!r}), whatever "
                f"cluster the source declares ({source.cluster!r})"
            )
        if source.task in tasks:
            errors.append(f"{where}.task: {source.task!r} is also {key}[{tasks[source.task]}]'s task")
        tasks.setdefault(source.task, i)
    return errors
