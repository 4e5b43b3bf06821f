"""dvc.yaml declares what each stage's code uses (tests/pipelines/declarations.py): every repository file
a stage runs is a dep and no dep is code it never runs; its params keys are the keys its Params reads.
Checked against every params file in the repository, with replicate seeds so matrix stages exist too."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml

from pretrainlab.config.load import load_params
from tests.checkout import ROOT, source_files
from tests.conftest import SMOKE
from tests.pipelines.declarations import (
    DeclaredStage,
    code_deps,
    code_problems,
    declared_stages,
    params_problems,
    stage_loader,
)

PARAMS_FILES = ("params.yaml", "presets/smoke.yaml", "presets/gpu-125m.yaml", "presets/gpu-paper.yaml")


def with_replicates(params_file: Path, dest: Path) -> Path:
    """A copy of ``params_file`` with a replicate seed, so that the ``*-replicate`` matrix stages exist
    (and every pretrain cell evaluated, as validation then requires)."""
    params = yaml.safe_load(params_file.read_text())
    params["study"]["seeds"] = params["study"]["seeds"] or [params["seed"] + 1]
    for cell in params["pretrain"]["cells"]:
        params["evaluate"]["models"].setdefault(cell, "pretrain")
    dest.write_text(yaml.safe_dump(params))
    return dest


@pytest.fixture(scope="module", params=PARAMS_FILES)
def study_stages(request, tmp_path_factory) -> tuple[Path, list[DeclaredStage]]:
    tmp = tmp_path_factory.mktemp("declared")
    params_file = with_replicates(ROOT / request.param, tmp / "params.yaml")
    stages = declared_stages(ROOT, params_file, tmp / "resolved")
    assert {s.name.split("@")[0] for s in stages} >= {
        "inputs",
        "corpus",
        "pretrain-replicate",
        "evaluate-replicate",
    }
    return params_file, stages


def test_every_stage_depends_on_exactly_the_code_it_runs(study_stages):
    _, stages = study_stages
    python_files = [f for f in source_files() if f.endswith(".py")]
    problems = code_problems(ROOT, stages, python_files)
    assert not problems, "dvc.yaml deps disagree with the code the stages run:\n  " + "\n  ".join(problems)


def test_every_stage_lists_exactly_the_params_keys_its_params_read(study_stages):
    params_file, stages = study_stages
    problems = params_problems(stages, load_params(params_file), stage_loader(ROOT))
    assert not problems, "dvc.yaml params disagree with the stages' Params:\n  " + "\n  ".join(problems)


# A project in miniature: a console script `toy` whose `stage` command imports stages/<name>.py,
# as `pretrainlab stage` does. Each planted omission below must be reported, and only it.
TOY = {
    "pyproject.toml": '[project]\nname = "toy"\n[project.scripts]\ntoy = "toy.cli:app"\n',
    "toy/__init__.py": "",
    "toy/cli.py": """\
        import importlib
        from toy import errors

        def stage(name):
            from toy.config import load  # runs only when `toy stage` runs: followed
            importlib.import_module(f"stages.{name}").main(load(), None)

        def flow():
            from toy import flows  # the `flow` command's own: `toy stage` never runs it
        """,
    "toy/errors.py": "class ToyError(Exception): ...\n",
    "toy/config.py": """\
        from typing import TYPE_CHECKING
        from . import schema  # relative: toy/schema.py
        if TYPE_CHECKING:
            from toy import flows  # never runs
        """,
    "toy/schema.py": "",
    "toy/flows.py": "",
    "toy/helper.py": "",
    "toy/unrelated.py": "",
    "toy/data/__init__.py": "",  # a package the stage runs most of: one folder dep
    "toy/data/a.py": "",
    "toy/data/b.py": "",
    "toy/scoring/__init__.py": "",  # a package the stage runs little of: file by file
    "toy/scoring/x.py": "",
    "toy/scoring/y.py": "",
    "toy/scoring/z.py": "",
    "toy/scoring/w.py": "",
    "stages/__init__.py": "",
    "stages/build.py": """\
        from pretrainlab.config.schema import Strict, TokenizerConfig

        class Params(Strict):
            seed: int
            tokenizer: TokenizerConfig

        def study_keys(study, cell):
            return {"seed": "seed", "tokenizer": "tokenizer"}

        def main(study, cell):
            from toy.helper import help  # function-local: followed
            from toy.data import a
            from toy.scoring import x
        """,
}
TOY_CODE = ["stages/__init__.py", "stages/build.py", "toy/__init__.py", "toy/cli.py", "toy/config.py"]
TOY_CODE += ["toy/errors.py", "toy/helper.py", "toy/schema.py"]
TOY_CODE += ["toy/data", "toy/scoring/__init__.py", "toy/scoring/x.py"]


def toy_problems(root: Path, deps: list[str], params: list[str]) -> list[str]:
    (root / "dvc.yaml").write_text(
        yaml.safe_dump({"stages": {"build": {"cmd": "toy stage build", "deps": deps, "params": params}}})
    )
    stages = declared_stages(root, SMOKE, Path(tempfile.mkdtemp(dir=root.parent)))
    python_files = [p.relative_to(root).as_posix() for p in root.rglob("*.py")]
    return code_problems(root, stages, python_files) + params_problems(
        stages, load_params(SMOKE), stage_loader(root)
    )


@pytest.fixture
def toy(tmp_path) -> Path:
    root = tmp_path / "toy-project"
    for name, text in TOY.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_a_complete_declaration_has_no_problems(toy):
    assert toy_problems(toy, [*TOY_CODE, "data/raw"], ["seed", "tokenizer"]) == []


def test_a_package_the_stage_runs_most_of_is_one_dep_and_one_it_runs_little_of_is_listed(toy):
    code = [f for f in TOY_CODE if f != "toy/data"]
    assert toy_problems(toy, [*code, "toy/data/__init__.py", "toy/data/a.py"], ["seed", "tokenizer"]) == [
        "build: lists 2 deps inside toy/data: declare toy/data instead (the stage runs 2 of its 3 Python files)"
    ]
    code = [f for f in TOY_CODE if not f.startswith("toy/scoring")]
    assert toy_problems(toy, [*code, "toy/scoring"], ["seed", "tokenizer"]) == [
        "build: dep toy/scoring holds toy/scoring/w.py, toy/scoring/y.py, toy/scoring/z.py, "
        "which the stage never runs"
    ]
    assert toy_problems(toy, ["stages", *TOY_CODE[2:]], ["seed", "tokenizer"]) == [
        "build: dep stages: list stages/__init__.py, stages/build.py instead"  # never a top-level folder
    ]


def test_planted_omissions_are_reported(toy):
    code = [f for f in TOY_CODE if f != "toy/helper.py"]
    assert toy_problems(toy, code, ["tokenizer"]) == [
        "build: runs toy/helper.py (imported by stages/build.py), which no dep covers",
        "build: Params reads seed, which dvc.yaml does not list",
    ]


def test_over_broad_declarations_are_reported(toy):
    assert toy_problems(toy, ["toy", *TOY_CODE[:2]], ["seed", "tokenizer", "corpus"]) == [
        "build: dep toy holds toy/data/b.py, toy/flows.py, toy/scoring/w.py, toy/scoring/y.py, "
        "toy/scoring/z.py, toy/unrelated.py, which the stage never runs",
        "build: dvc.yaml lists corpus, which its Params never reads",
    ]


def test_code_deps_fold_a_package_run_mostly_and_look_inside_one_run_little():
    files = ["p/__init__.py", "p/m/__init__.py", "p/m/a.py", "p/m/b.py", "p/e/x.py", "p/e/y.py", "p/e/z.py"]
    files += ["p/d/s/t.py", "p/d/s/u.py", "p/d/q/r.py", "p/d/q/o.py", "p/d/q/n.py"]  # p/d: subfolders only
    reached = ["p/__init__.py", "p/m/__init__.py", "p/m/a.py", "p/e/x.py", "p/d/s/t.py"]
    assert code_deps(reached, files) == ["p/__init__.py", "p/d/s", "p/e/x.py", "p/m"]
    assert code_deps(["p/m/a.py"], files) == ["p/m/a.py"]  # 1 of 3 files: listed alone
