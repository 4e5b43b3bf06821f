"""Run ``dvc repro`` for one stage and say what happened: ran, up to date, restored from the run cache,
or failed — and whether a failure is worth retrying.

DVC decides what is stale and records ``dvc.lock``; this module only starts it and reads its words:

    Running stage 'pretrain@cd-flm':                           -> ran
    Stage 'corpus' didn't change, skipping                     -> up to date
    Stage 'report' is cached - skipping run, checking out ...  -> restored (DVC's run cache)

Transient failures (retried with backoff): contention with another DVC process — the repo lock
(``Unable to acquire lock``; we pass ``--wait-for-lock`` so DVC normally waits instead) or a per-output
lock (``'data/tokens' is busy``) — and interrupted I/O or network errors (EAGAIN, EINTR, connection
reset, timeouts: they only arise with a remote, e.g. ``--pull``). Everything else is permanent and is
not retried: a stage command that exits non-zero does so deterministically for the same inputs (a
retry would spend the same compute to fail again), and ``No space left on device`` needs a person,
not a retry seconds later.

A stage command that failed is named with its own exit code (DVC itself exits 255):

    ERROR: failed to reproduce 'corpus': failed to run: pretrainlab stage corpus, exited with 2

and exit code 2 is bad input (:mod:`pretrainlab.errors`), whose one ``error: ...`` line the stage
printed just before.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

RAN, UP_TO_DATE, RESTORED, FAILED, SKIPPED = "ran", "up to date", "restored", "failed", "skipped"

TRANSIENT_MARKERS = (
    "Unable to acquire lock",
    "is busy, it is being blocked by",
    "Resource temporarily unavailable",
    "Interrupted system call",
    "Connection reset",
    "Connection refused",
    "Connection aborted",
    "Temporary failure in name resolution",
    "timed out",
)
TAIL_LINES = 40
BAD_INPUT_EXIT_CODE = 2  # a stage's one-line refusal of its input (pretrainlab.errors)


class StageError(RuntimeError):
    """``dvc repro`` failed for a stage; the message ends with the tail of DVC's output.

    ``stage_exit_code``: what the stage's command exited with (None: DVC failed around it)."""

    def __init__(self, stage: str, returncode: int, tail: str):
        self.stage = stage
        self.returncode = returncode
        self.tail = tail
        self.stage_exit_code = stage_exit_code(stage, tail)
        self.attempts = 1  # the flow's task sets how many runs it took, retries included
        super().__init__(f"dvc repro {stage!r} exited with {returncode}:\n{tail}")


class TransientStageError(StageError):
    """A failure worth retrying (lock contention, interrupted I/O, network)."""


@dataclass(frozen=True)
class StageResult:
    """What happened to one stage. ``started``/``finished`` are epoch seconds (0 when skipped)."""

    stage: str
    status: str
    started: float = 0.0
    finished: float = 0.0
    attempts: int = 0
    note: str = ""
    bad_input: str = ""  # failed: the stage's one-line refusal of its input (exit code 2)

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 0.0)


def is_transient(output: str) -> bool:
    return any(marker in output for marker in TRANSIENT_MARKERS)


def outcome(stage: str, output: str) -> str:
    """What DVC did with ``stage``, read from its output (``ran`` when it says nothing recognisable)."""
    quoted = re.escape(f"'{stage}'")
    if re.search(rf"Stage {quoted} didn't change, skipping", output):
        return UP_TO_DATE
    if re.search(rf"Stage {quoted} is cached - skipping run", output):
        return RESTORED
    return RAN


def stage_exit_code(stage: str, output: str) -> int | None:
    """The exit code of ``stage``'s own command, from DVC's output (None: it did not say)."""
    quoted = re.escape(f"'{stage}'")
    found = re.findall(
        rf"failed to reproduce {quoted}: failed to run: .*, exited with (-?\d+)\s*$", output, re.M
    )
    return int(found[-1]) if found else None


def bad_input(error: StageError) -> str | None:
    """The stage's one ``error: ...`` line when it refused its input (exit code 2), else None."""
    if error.stage_exit_code != BAD_INPUT_EXIT_CODE:
        return None
    lines = [
        line.removeprefix("error:").strip() for line in error.tail.splitlines() if line.startswith("error:")
    ]
    return lines[-1] if lines else f"stage {error.stage} refused its input (exit code 2)"


def dvc_command(*args: str) -> list[str]:
    """``dvc`` from this interpreter's environment; ``--wait-for-lock`` queues behind other DVC runs."""
    return [sys.executable, "-m", "dvc", "--wait-for-lock", *args]


def dvc_env() -> dict[str, str]:
    """The stage commands (``pretrainlab stage ...``) live next to this interpreter."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def stale_stages(repo: Path) -> frozenset[str] | None:
    """The stages ``dvc status`` finds changed, from one DVC process for the whole pipeline (None: it
    could not say, and every stage asks ``dvc repro`` itself)."""
    done = subprocess.run(
        dvc_command("status", "--json"), cwd=repo, env=dvc_env(), capture_output=True, text=True, check=False
    )
    try:
        changed = json.loads(done.stdout or "{}") if done.returncode == 0 else None
    except ValueError:
        return None
    return frozenset(changed) if isinstance(changed, dict) else None


def repro(repo: Path, stage: str, *, force: bool = False, log: logging.Logger | None = None) -> StageResult:
    """``dvc repro -s [-f] <stage>`` in ``repo`` (this stage only; the caller runs upstream first),
    streaming DVC's output to ``log`` line by line.

    Raises :class:`TransientStageError` or :class:`StageError` when DVC exits non-zero.
    """
    log = log or logging.getLogger(__name__)
    args = ["repro", "-s", *(["-f"] if force else []), stage]
    started = time.time()
    lines: deque[str] = deque(maxlen=TAIL_LINES)
    markers: list[str] = []
    with subprocess.Popen(
        dvc_command(*args),
        cwd=repo,
        env=dvc_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            if not line:
                continue
            lines.append(line)
            if line.startswith("Stage ") or is_transient(line):
                markers.append(line)
            log.info("%s", line)
    finished = time.time()
    output = "\n".join([*markers, *lines])
    if process.returncode != 0:
        error = TransientStageError if is_transient(output) else StageError
        raise error(stage, process.returncode, "\n".join(lines))
    return StageResult(stage, outcome(stage, output), started=started, finished=finished, attempts=1)
