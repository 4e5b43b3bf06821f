"""Does each dvc.yaml stage declare what its code uses? DVC reruns a stage only when a declared dep or
params key changes, so code or a key the stage reads but does not declare leaves stale results
"up to date", and a declared dep the stage never reads reruns it for unrelated edits.

- Code: every repository file of the stage's import closure (:mod:`tests.pipelines.import_closure`)
  — its module ``stages/<name>.py`` plus the CLI path ``<script> stage <name>`` runs through — must
  lie under a dep, and no dep may hold a Python file outside that closure (a directory dep is fine
  when the stage runs every file in it; data deps such as ``data/tokens`` or ``lm_eval_tasks`` hold
  no Python code and are not judged).
- Params: the keys a stage lists must be the keys its ``Params`` is built from, which the stage
  module names in ``study_keys(study, cell)``. A listed key may be a whole section holding the key
  read (``models`` for ``models.tiny``): a foreach over adapt cells or a matrix over pretrain cells
  cannot name the size its cell uses.

Both checks run on the stages as DVC itself resolves them (``foreach``/``matrix`` expanded against a
params file), and return one line per problem; an empty list means the declarations agree.
"""

from __future__ import annotations

import importlib.util
import logging
import shlex
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import tomllib

from pretrainlab.config.schema import Study
from tests.pipelines.import_closure import closure, module_file

DVC_FILES = ("dvc.yaml", "inputs/dvc.yaml")  # the study's pipeline files: one DAG to DVC


@dataclass(frozen=True)
class DeclaredStage:
    name: str  # DVC's name: pretrain@cd-flm, pretrain-replicate@cd-flm-1
    argv: tuple[str, ...]  # its command: ("pretrainlab", "stage", "pretrain", "--cell", "cd-flm")
    deps: tuple[str, ...]  # as written, relative to dvc.yaml
    params: tuple[str, ...]  # keys of params.yaml

    @property
    def stage(self) -> str | None:
        """The pipeline stage the command runs (``pretrainlab stage <name>``), else None."""
        return self.argv[2] if len(self.argv) > 2 and self.argv[1] == "stage" else None

    @property
    def cell(self) -> str | None:
        """The ``--cell`` the stage's ``main()`` receives."""
        return dict(zip(self.argv[3::2], self.argv[4::2], strict=False)).get("--cell")

    @property
    def seed(self) -> int | None:
        """A replicate's ``--seed``, which the stage's ``main()`` receives beside the cell."""
        seed = dict(zip(self.argv[3::2], self.argv[4::2], strict=False)).get("--seed")
        return None if seed is None else int(seed)


def declared_stages(project: Path, params_file: Path, workdir: Path) -> list[DeclaredStage]:
    """The stages of ``project``'s dvc.yaml files as DVC resolves them against ``params_file`` (in ``workdir``)."""
    from dvc.repo import Repo

    for dvc_file in DVC_FILES:
        if (project / dvc_file).is_file():
            (workdir / dvc_file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(project / dvc_file, workdir / dvc_file)
    shutil.copy(params_file, workdir / "params.yaml")
    # A DVC repository without `Repo.init`, and with DVC's logger quiet: an earlier in-process `dvc`
    # command of the test session may have left DVC's handler on a stream pytest has since closed.
    (workdir / ".dvc").mkdir(exist_ok=True)
    (workdir / ".dvc" / "config").write_text("[core]\n    no_scm = True\n")
    dvc_logger = logging.getLogger("dvc")
    was_disabled, dvc_logger.disabled = dvc_logger.disabled, True
    try:
        with Repo(str(workdir)) as repo:
            return _stages(repo)
    finally:
        dvc_logger.disabled = was_disabled


def _stages(repo) -> list[DeclaredStage]:
    from dvc.dependency.param import ParamsDependency

    return [
        DeclaredStage(
            name=stage.name,
            argv=tuple(shlex.split(stage.cmd if isinstance(stage.cmd, str) else " ".join(stage.cmd))),
            deps=tuple(d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)),
            params=tuple(
                key
                for d in stage.deps
                if isinstance(d, ParamsDependency) and d.def_path == "params.yaml"
                for key in d.params
            ),
        )
        for stage in repo.index.stages
    ]


def cli_entry(root: Path, script: str) -> str:
    """The module behind a console script of ``root/pyproject.toml`` (``pretrainlab.cli:app`` -> its file)."""
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    target = module_file(root, scripts[script].split(":")[0])
    if target is None:
        raise AssertionError(f"pyproject.toml: script {script!r} is not a module of the repository")
    return target


def _within(path: str, dep: str) -> bool:
    dep = dep.rstrip("/")
    return path == dep or path.startswith(dep + "/")


def _covers(outer: str, key: str) -> bool:
    """Params key ``outer`` holds ``key``: ``models`` holds ``models.tiny``."""
    return key == outer or key.startswith(outer + ".")


def _grouped(problems: Iterable[tuple[str, str]]) -> list[str]:
    """One line per problem; the instances of a foreach/matrix stage that share it are named together."""
    keys: dict[tuple[str, str], list[str]] = {}
    for stage, text in problems:
        group, _, key = stage.partition("@")
        keys.setdefault((group, text), []).append(key)
    lines = []
    for (group, text), names in keys.items():
        instances = names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"
        lines.append(f"{group}@{instances}: {text}" if names[0] else f"{group}: {text}")
    return lines


def code_problems(root: Path, stages: Iterable[DeclaredStage], python_files: Iterable[str]) -> list[str]:
    """Code a stage runs but no dep covers, and deps that hold code the stage never runs."""
    python_files = sorted(python_files)
    problems: list[tuple[str, str]] = []
    closures: dict[tuple[str, str], dict[str, str | None]] = {}
    for stage in stages:
        if stage.stage is None:
            problems.append((stage.name, f"command {' '.join(stage.argv)!r} is not `<script> stage <name>`"))
            continue
        script, module = stage.argv[0], f"stages/{stage.stage}.py"
        if (script, module) not in closures:
            closures[script, module] = closure(root, [module], (cli_entry(root, script), ["stage"]))
        reached = closures[script, module]
        for file, importer in sorted(reached.items()):
            if not any(_within(file, dep) for dep in stage.deps):
                via = f" (imported by {importer})" if importer else ""
                problems.append((stage.name, f"runs {file}{via}, which no dep covers"))
        for dep in stage.deps:
            if unused := [f for f in python_files if _within(f, dep) and f not in reached]:
                what = "is code" if unused == [dep] else f"holds {', '.join(unused)},"
                problems.append((stage.name, f"dep {dep} {what} which the stage never runs"))
    return _grouped(problems)


def params_problems(
    stages: Iterable[DeclaredStage], study: Study, load_stage: Callable[[str], ModuleType]
) -> list[str]:
    """Keys a stage's Params reads that it does not list (stale results), and listed keys it never reads."""
    problems: list[tuple[str, str]] = []
    for stage in stages:
        if stage.stage is None:
            continue  # code_problems names it
        module = load_stage(stage.stage)
        keys = (
            module.study_keys(study, stage.cell, stage.seed)
            if stage.seed is not None
            else module.study_keys(study, stage.cell)
        )
        if unknown := sorted(set(keys) - set(module.Params.model_fields)):
            problems.append((stage.name, f"study_keys names no Params field {', '.join(unknown)}"))
        read = set(keys.values())
        for key in sorted(read):
            if not any(_covers(listed, key) for listed in stage.params):
                problems.append((stage.name, f"Params reads {key}, which dvc.yaml does not list"))
        for listed in stage.params:
            if not any(_covers(listed, key) or _covers(key, listed) for key in read):
                problems.append((stage.name, f"dvc.yaml lists {listed}, which its Params never reads"))
    return _grouped(problems)


def stage_loader(root: Path) -> Callable[[str], ModuleType]:
    """Import ``root/stages/<name>.py``: the package's own module for this checkout, else from the file."""

    def load(name: str) -> ModuleType:
        path = root / "stages" / f"{name}.py"
        if (existing := sys.modules.get(f"stages.{name}")) is not None and Path(
            existing.__file__ or ""
        ) == path:
            return existing
        spec = importlib.util.spec_from_file_location(f"declared_stage_{abs(hash(path))}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
