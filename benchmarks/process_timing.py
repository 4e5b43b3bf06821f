"""Timing a fresh Python process, as a user's shell starts one: wall seconds, CPU seconds, peak RSS.

Shared by the start-up benchmarks (``validate_time.py``, ``stage_overhead.py``). Each process runs the
code of ``tree`` (a checkout: the working tree, or ``git worktree add /tmp/before <commit>`` for a
before/after comparison) with bytecode cached under a temporary ``PYTHONPYCACHEPREFIX``, as an
installed package has it; call :func:`warm_up` once per command so the first timed run does not pay
for compiling. Wall time on a shared machine swings with other load, so each run records the 1-minute
load average beside it, and CPU seconds (which hardly depend on that load) are recorded too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import RESULTS, machine_info, spread

PYCACHE = Path(tempfile.gettempdir()) / "pretrainlab-bench-pycache"


@dataclass(frozen=True)
class Run:
    wall_s: float  # spawn to exit
    cpu_s: float  # user + system of the process
    max_rss_mb: float
    load_1m: float  # the machine's 1-minute load average when the run ended
    stdout: str
    started_at: float  # time.time() just before the spawn


def env_for(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def run(args: list[str], tree: Path) -> Run:
    """``python <args>`` in ``tree`` (its code first on sys.path); fails loudly on a non-zero exit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started, wall = time.time(), time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=tree, env=env_for(tree), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (Popen.wait would discard it)
        wall = time.perf_counter() - wall
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} failed in {tree}:\n{stderr[-3000:]}")
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,
        load_1m=os.getloadavg()[0],
        stdout=stdout,
        started_at=started,
    )


def warm_up(args: list[str], tree: Path) -> None:
    """One untimed run: compiles and caches the bytecode of everything ``args`` imports."""
    run(args, tree)


def summary(runs: list[Run], key: str = "wall_s") -> dict[str, Any]:
    """Median/min/max of ``key`` and of CPU seconds, peak RSS, and the load average of every run."""
    values = [getattr(r, key) for r in runs]
    return {
        key: {k: round(v, 3) if isinstance(v, float) else v for k, v in spread(values).items()},
        "cpu_s": {
            k: round(v, 3) if isinstance(v, float) else v for k, v in spread([r.cpu_s for r in runs]).items()
        },
        "max_rss_mb": round(max(r.max_rss_mb for r in runs), 1),
        "load_1m_per_run": [round(r.load_1m, 2) for r in runs],
    }


def record(name: str, label: str, result: dict[str, Any]) -> Path:
    """Store ``result`` under ``runs.<label>`` of ``benchmarks/results/<name>.json`` (or ``$OUT``), keeping
    the other labels already there (a before/after pair is measured in two invocations)."""
    folder = Path(os.environ["OUT"]) if os.environ.get("OUT") else RESULTS
    path = folder / f"{name}.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    runs = previous.get("runs", {})
    runs[label] = {**result, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine_info()}
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "runs": runs}, indent=2) + "\n")
    return path
