"""The ``pretrainlab`` command: validate a study, run one stage (what dvc.yaml calls), rebuild the report.

Bad input anywhere ends in one clear message naming the key or file, and exit code 2. A full disk
(or quota) ends in one line naming the file being written, and exit code 1; nothing half-written is left.
"""

from __future__ import annotations

import errno
import functools
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from pretrainlab.errors import UserInputError

if TYPE_CHECKING:
    from rich.console import Console

STAGES = ("inputs", "corpus", "tokenize", "pretrain", "adapt", "finetune", "evaluate", "report")
TRAINING_STAGES = ("pretrain", "adapt", "finetune")  # run on resources.nproc_per_node processes
JOB_STAGES = (*TRAINING_STAGES, "evaluate")  # with resources.launcher: slurm, run as a SLURM job
CELL_STAGES = ("pretrain", "adapt", "finetune", "evaluate")
REPLICATE_STAGES = ("pretrain", "evaluate")
# File-system refusals a user causes and fixes (a path named in params or on the command line):
# unreadable, read-only, in a missing folder, a folder where a file goes, a file where a folder goes.
USER_FIXABLE = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG}
)
USER_FIXABLE_EXIT_CODE = 2


class Commands(TyperGroup):
    """The commands below, and ``flow`` (Prefect's entry points, :mod:`pipelines.cli`), imported only
    when it is asked for: a stage or ``validate`` runs no code of the pipeline apps."""

    def list_commands(self, ctx) -> list[str]:
        return [*super().list_commands(ctx), "flow"]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name == "flow" and "flow" not in self.commands:
            from pipelines.cli import flow_app

            group = typer.main.get_group(flow_app)
            group.name = "flow"
            self.add_command(group)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(cls=Commands, add_completion=False, no_args_is_help=True, help=__doc__)


@functools.cache
def err() -> Console:
    """Where errors and logs go (rich is imported on the first message, not by a quiet success)."""
    from rich.console import Console

    return Console(stderr=True)


ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="The study's params file.")]


def _setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err(), show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("httpx", "urllib3", "datasets", "filelock", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(error: UserInputError) -> None:
    from rich.markup import escape  # a message's own brackets (pretrainlab[slurm]) are text

    err().print(f"[bold red]error:[/] {escape(str(error))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=error.exit_code)


def _fail_file_system(error: OSError) -> None:
    """What the file system refused, in one line naming the path, no traceback: a full disk (exit 1,
    not bad input), or a path the user can fix (exit 2: unreadable, read-only, missing folder, a folder
    where a file goes). Anything else is a bug and keeps its traceback."""
    from rich.markup import escape

    from pretrainlab.atomic import DISK_FULL

    where = f"{error.filename}: " if error.filename else ""
    if error.errno in DISK_FULL:
        advice, code = "free some space and rerun", 1
    elif error.errno in USER_FIXABLE and error.filename:
        advice, code = "fix the path or its permissions and rerun", USER_FIXABLE_EXIT_CODE
    else:
        raise error
    err().print(
        f"[bold red]error:[/] {escape(where)}{error.strerror} (errno {error.errno}); no half-written "
        f"file was published and the previous version is intact: {advice}",
        markup=True,
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(code=code)


@app.command()
def validate(params: Annotated[Path, typer.Argument(help="params file")] = Path("params.yaml")) -> None:
    """Check a params file; print every error with its key path (exit 2), or a one-line summary."""
    from pretrainlab.config.load import load_params

    try:
        study = load_params(params)
    except UserInputError as error:
        _fail(error)
    except OSError as error:
        _fail_file_system(error)
    cells = ", ".join(study.pretrain.cells)
    typer.echo(f"{params}: ok ({len(study.pretrain.cells)} pretrain cells: {cells})")


@app.command()
def schema(out: Annotated[Path, typer.Option(help="where to write")] = Path("params.schema.json")) -> None:
    """Write the JSON Schema that editors use to complete params.yaml."""
    from pretrainlab.atomic import atomic_file
    from pretrainlab.config.load import json_schema

    try:
        if out.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(out))
        if not out.parent.is_dir():  # a typo in the folder: not created behind the user's back
            raise FileNotFoundError(errno.ENOENT, "no such folder", str(out.parent))
        text = json_schema()
        with atomic_file(out) as handle:
            handle.write(text)
    except OSError as error:
        _fail_file_system(error)
    typer.echo(f"wrote {out}")


@app.command()
def stage(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")],
    cell: Annotated[
        str | None, typer.Option("--cell", help="grid cell / model name (foreach stages)")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
    seed: Annotated[
        int | None, typer.Option("--seed", help="a replicate seed from study.seeds (pretrain, evaluate)")
    ] = None,
    verbose: bool = False,
) -> None:
    """Run one stage (what dvc.yaml calls): validate the whole study, then do the work."""
    from stages import check_environment

    try:
        check_environment()  # a launcher's leftovers: refused before they change what runs
    except UserInputError as error:
        _fail(error)
    from pretrainlab.training.launch import CHILD_ENV, guard_worker

    if os.environ.get(CHILD_ENV):  # a torchrun worker of a training stage
        guard_worker()
    _setup_logging(verbose)
    try:
        if name not in STAGES:
            raise UserInputError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")
        if (cell is None) == (name in CELL_STAGES):
            need = "needs --cell" if name in CELL_STAGES else "takes no --cell"
            raise UserInputError(f"stage {name!r} {need}")
        from pretrainlab.config.load import load_params

        study = load_params(params)
        if seed is not None and (name not in REPLICATE_STAGES or seed not in study.replicate_seeds):
            raise UserInputError(
                f"--seed {seed}: only pretrain and evaluate take a seed listed in study.seeds"
            )
        args = ["stage", name, "--params", str(params)] + (["--cell", cell] if cell else [])
        args += (["--seed", str(seed)] if seed is not None else []) + (["--verbose"] if verbose else [])
        if name in TRAINING_STAGES:
            from pretrainlab.training.launch import launch_training

            returncode = launch_training(study.resources, args)
            if returncode is not None:  # the workers ran the stage
                raise typer.Exit(code=returncode)
        elif name in JOB_STAGES and study.resources.launcher == "slurm":
            from pretrainlab.training.launch import is_worker
            from pretrainlab.training.slurm import submit_stage

            if not is_worker():  # an evaluation is one process: a job of one node, one task
                one = study.resources.model_copy(update={"nnodes": 1, "nproc_per_node": 1})
                raise typer.Exit(code=submit_stage(one, args))
        module = importlib.import_module(f"stages.{name}")
        _threads(study.resources.num_threads)
        if name in REPLICATE_STAGES:
            module.main(study, cell, seed)
        else:
            module.main(study, cell)
    except UserInputError as error:
        if name in JOB_STAGES:
            from pretrainlab.training.launch import report_worker_error

            report_worker_error(error)  # in a worker (of torchrun, or of a SLURM job): for its launcher
        _fail(error)
    except OSError as error:
        _fail_file_system(error)


@app.command()
def report(params: ParamsOption = Path("params.yaml")) -> None:
    """Rebuild reports/study.md from the metrics and plots on disk."""
    stage("report", None, params)


@app.command()
def export(
    model: Annotated[str, typer.Argument(help="the model, <stage>/<name>: pretrain/cd-flm, finetune/x")],
    to: Annotated[Path, typer.Option("--to", help="the directory to write")],
    push: Annotated[str | None, typer.Option("--push", help="also upload it to this Hub repo")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace DIR if it exists")] = False,
) -> None:
    """Write a trained model as a self-contained directory with a model card (README.md) that stock
    transformers loads; with --push, upload it to the Hugging Face Hub."""
    from pretrainlab.export.directory import export_model
    from pretrainlab.export.push import check_can_push, push_model

    try:
        if push is not None:
            check_can_push(push)  # offline or no token: before anything is written
        out = export_model(model, to, force=force, location=push)
        typer.echo(f"{model}: exported to {out}")
        if push is not None:
            typer.echo(f"{model}: pushed to {push_model(out, push)}")
    except UserInputError as error:
        _fail(error)
    except OSError as error:
        _fail_file_system(error)


def _threads(num_threads: int) -> None:
    """Bound torch's threads, in a stage whose module uses torch (the corpus and report stages do not
    import it, and need not pay for it)."""
    torch = sys.modules.get("torch")
    if num_threads > 0 and torch is not None:
        torch.set_num_threads(num_threads)


def main() -> None:  # pragma: no cover - console entry
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
