"""Does each dvc.yaml stage declare what its code uses? DVC reruns a stage only when a declared dep or
params key changes, so code or a key the stage reads but does not declare leaves stale results
"up to date", and a declared dep the stage never reads reruns it for unrelated edits.

- Code: every repository file of the stage's import closure (:mod:`tests.pipelines.import_closure`)
  — its module ``stages/<name>.py`` plus the CLI path ``<script> stage <name>`` runs through — must
  lie under a dep, and the code deps must be exactly :func:`code_deps` of that closure: a package
  folder (below the top level, e.g. ``pretrainlab/models``) of which the stage runs at least half the
  Python files is one dep, the rest are listed file by file. A folder dep then reruns the stage for an
  edit to one of its files the stage does not run, the price of a short dep list: every dep costs
  each no-op ``dvc status``/``dvc repro`` a hash lookup, an entry in DVC's lock file and in its
  read-lock file, per stage. A package the stage uses only a few files of stays file by file, so
  pretraining does not rerun when, say, the scoring code changes. Data deps such as ``data/tokens``
  or ``lm_eval_tasks`` hold no Python code and are not judged.
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


def _python_files_in(folder: str, python_files: Iterable[str]) -> list[str]:
    return [f for f in python_files if _within(f, folder)]


def code_deps(reached: Iterable[str], python_files: Iterable[str]) -> list[str]:
    """The code deps that declare a stage running ``reached``: each package folder below the top level
    of which it runs at least half the Python files, else (looking into its subfolders) each file.

    >>> files = ["p/__init__.py", "p/m/__init__.py", "p/m/a.py", "p/m/b.py", "p/e/x.py", "p/e/y.py", "p/e/z.py"]
    >>> code_deps(["p/__init__.py", "p/m/__init__.py", "p/m/a.py", "p/e/x.py"], files)
    ['p/__init__.py', 'p/e/x.py', 'p/m']
    >>> code_deps(["p/e/x.py", "p/d/s/t.py"], [*files, "p/d/s/t.py", "p/d/s/u.py", "p/d/v.py", "p/d/w.py"])
    ['p/d/s', 'p/e/x.py']
    """
    python_files = sorted(python_files)
    reached = set(reached)
    deps: list[str] = []

    def visit(folder: str, depth: int) -> None:
        inside = _python_files_in(folder, python_files)
        run = [f for f in inside if f in reached]
        if not run:
            return
        if depth >= 2 and 2 * len(run) >= len(inside):
            deps.append(folder)
            return
        deps.extend(f for f in run if f.count("/") == folder.count("/") + 1)
        level = folder.count("/") + 2  # path parts of an immediate subfolder
        for sub in sorted({"/".join(f.split("/")[:level]) for f in inside if f.count("/") >= level}):
            visit(sub, depth + 1)

    deps.extend(f for f in sorted(reached) if "/" not in f)
    for top in sorted({f.split("/", 1)[0] for f in reached if "/" in f}):
        visit(top, 1)
    return sorted(deps)


def code_problems(root: Path, stages: Iterable[DeclaredStage], python_files: Iterable[str]) -> list[str]:
    """Code a stage runs but no dep covers, and code deps other than :func:`code_deps` of what it runs."""
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
        expected = code_deps(reached, python_files)
        declared = [d for d in stage.deps if _python_files_in(d, python_files)]
        for file, importer in sorted(reached.items()):
            if not any(_within(file, dep) for dep in stage.deps):
                via = f" (imported by {importer})" if importer else ""
                problems.append((stage.name, f"runs {file}{via}, which no dep covers"))
        for folder in sorted(set(expected) - set(declared)):
            listed = [d for d in declared if _within(d, folder) and d != folder]
            if listed:
                inside = _python_files_in(folder, python_files)
                run = sum(f in reached for f in inside)
                problems.append(
                    (
                        stage.name,
                        f"lists {len(listed)} deps inside {folder}: declare {folder} instead "
                        f"(the stage runs {run} of its {len(inside)} Python files)",
                    )
                )
        for dep in sorted(set(declared) - set(expected)):
            unused = [f for f in _python_files_in(dep, python_files) if f not in reached]
            if any(_within(dep, folder) for folder in expected if folder != dep):
                continue  # named above: declare the folder instead
            if unused:
                what = "is code" if unused == [dep] else f"holds {', '.join(unused)},"
                problems.append((stage.name, f"dep {dep} {what} which the stage never runs"))
            else:
                problems.append(
                    (
                        stage.name,
                        f"dep {dep}: list {', '.join(d for d in expected if _within(d, dep))} instead",
                    )
                )
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
