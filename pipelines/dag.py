"""The study's stage graph, read from DVC (``dvc.yaml`` resolved by DVC itself, never declared twice).

>>> graph = read_graph(Path("."))                                   # doctest: +SKIP
>>> graph.order                                                      # doctest: +SKIP
('inputs/dvc.yaml:inputs', 'corpus', 'tokenize', 'pretrain@cd-flm', 'evaluate@cd-flm', 'report')
>>> graph.upstream["evaluate@cd-flm"]                                # doctest: +SKIP
('inputs/dvc.yaml:inputs', 'tokenize', 'pretrain@cd-flm')

A target and everything it depends on, upstream first:

>>> graph.select(["evaluate@cd-flm"])                                # doctest: +SKIP
('inputs/dvc.yaml:inputs', 'corpus', 'tokenize', 'pretrain@cd-flm', 'evaluate@cd-flm')

Stages are named as ``dvc repro`` at the root names them: a stage of another dvc.yaml (the study's
``inputs``) by its file and name; a target may leave the file out (``inputs``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from pretrainlab.errors import UserInputError


@dataclass(frozen=True)
class StageGraph:
    """Stage names in a deterministic topological order (upstream first) and each stage's upstream."""

    repo: Path
    order: tuple[str, ...]
    upstream: dict[str, tuple[str, ...]]
    metrics: dict[str, tuple[Path, ...]]  # metrics files each stage declares, relative to ``repo``
    always_changed: frozenset[str] = frozenset()  # stages DVC runs every time (``always_changed: true``)

    def select(self, targets: Iterable[str] | None) -> tuple[str, ...]:
        """The targets plus all their ancestors, upstream first; ``None`` or empty selects every stage.

        A target is a stage name (``pretrain@cd-flm``, ``inputs`` for ``inputs/dvc.yaml:inputs``) or a
        ``foreach`` group (``pretrain``: all cells).
        """
        targets = list(targets or [])
        if not targets:
            return self.order
        wanted = self.named(targets)
        closed = set(wanted)
        for name in wanted:
            closed.update(self.ancestors(name))
        return tuple(name for name in self.order if name in closed)

    def named(self, targets: Iterable[str]) -> set[str]:
        """The stages the targets name themselves: a stage, or every cell of a ``foreach`` group."""
        wanted: set[str] = set()
        for target in targets:
            members = {
                name
                for name in self.order
                if target in (name, name.rsplit(":", 1)[-1], name.rsplit(":", 1)[-1].split("@")[0])
            }
            if not members:
                valid = ", ".join(self.order)
                raise UserInputError(f"unknown target stage {target!r}; stages in dvc.yaml: {valid}")
            wanted |= members
        return wanted

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.upstream[name])
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.upstream[current])
        return seen

    def downstream(self, name: str) -> set[str]:
        return {other for other in self.order if name in self.ancestors(other)}


def read_graph(repo: Path) -> StageGraph:
    """Ask DVC for the pipeline in ``repo``; bad input raises :class:`UserInputError` naming the culprit."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    repo = Path(repo).resolve()
    if not repo.is_dir():
        raise UserInputError(f"{repo}: no such directory")
    if not (repo / ".dvc").is_dir():
        raise UserInputError(
            f"{repo}: not a DVC repository (no .dvc/ directory); run `git init && dvc init` there "
            "or point --repo at the study's checkout"
        )
    if not (repo / "dvc.yaml").is_file():
        raise UserInputError(f"{repo / 'dvc.yaml'}: missing; the study flow runs the stages it declares")
    try:
        with Repo(str(repo)) as dvc_repo, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # DVC's own, from its pygtrie use
            stages = [s for s in dvc_repo.index.stages if isinstance(s, PipelineStage)]
            graph = dvc_repo.index.graph
            names = {stage: _address(stage, repo) for stage in stages}
            position = {names[stage]: i for i, stage in enumerate(stages)}
            # DVC's edges point from a stage to the stage it depends on; upstream first means reversed.
            flow = nx.DiGraph()
            flow.add_nodes_from(names.values())
            for stage, dependency in graph.edges:
                if stage in names and dependency in names:
                    flow.add_edge(names[dependency], names[stage])
            metrics = {
                names[stage]: tuple(Path(out.fs_path).relative_to(repo) for out in stage.outs if out.metric)
                for stage in stages
            }
            always_changed = frozenset(names[stage] for stage in stages if stage.always_changed)
    except DvcException as error:
        raise UserInputError(f"{repo / 'dvc.yaml'}: DVC cannot read the pipeline: {error}") from error
    if not names:
        raise UserInputError(f"{repo / 'dvc.yaml'}: declares no stages")
    order = tuple(nx.lexicographical_topological_sort(flow, key=position.__getitem__))
    upstream = {name: tuple(sorted(flow.predecessors(name), key=position.__getitem__)) for name in order}
    return StageGraph(
        repo=repo, order=order, upstream=upstream, metrics=metrics, always_changed=always_changed
    )


def _address(stage, repo: Path) -> str:
    """How ``dvc repro`` run from the repository root names the stage (DVC's own ``addressing`` is
    relative to the process's working directory)."""
    dvcfile = Path(stage.path).resolve()
    return stage.name if dvcfile == repo / "dvc.yaml" else f"{dvcfile.relative_to(repo)}:{stage.name}"
