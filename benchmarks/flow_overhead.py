"""What the Prefect study flow costs over plain `dvc repro`, and what max_parallel 2 buys over 1.

Each variant runs the whole study from scratch in its own fresh git + DVC project (same params):

    dvc repro                      the baseline
    study flow, max_parallel 1     same work in the same order: the difference is orchestration
    study flow, max_parallel 2     independent grid cells side by side

then no-op passes (everything up to date, ``--repeats`` times, alternating): `dvc repro`, the study
flow in this process, and `pretrainlab flow run` as a user types it against the already running
server (a new process: Python, Prefect and the flow's imports, no temporary server). They isolate the
fixed per-run and per-stage costs (Prefect run bookkeeping; the flow asks `dvc status` once and
starts no DVC process for a stage it found up to date).

    python benchmarks/flow_overhead.py                       # presets/smoke.yaml as it is
    python benchmarks/flow_overhead.py --pretrain-cells 2    # cut to two pretrain cells (as the tests)
    python benchmarks/flow_overhead.py --noop-only           # one `dvc repro`, then the no-op passes

Wall time on a shared machine swings with other load, so CPU seconds (this process and its children)
are recorded beside it. Writes benchmarks/results/flow_overhead.json; the last line printed is
``flow_overhead: noop_overhead_per_stage_s=<(no-op flow - no-op dvc repro) / stages>`` (medians), the
orchestration cost per stage that does not depend on what the stages compute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="flow-overhead-prefect-")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import yaml  # noqa: E402

import pipelines  # noqa: E402, F401 - offline Prefect defaults

# A project is the checkout minus history, environments, outputs and what no stage reads.
NOT_COPIED = (".git", ".venv", "*.egg-info", "__pycache__", ".*_cache", "data", "metrics", "plots", "reports")
NOT_COPIED_TOP = {"benchmarks", "tests", ".dvc"}
RESULT = ROOT / "benchmarks" / "results" / "flow_overhead.json"


def study_params(preset: Path, pretrain_cells: int) -> dict:
    """The preset, optionally cut to its first ``pretrain_cells`` cells (adapt/finetune emptied)."""
    params = yaml.safe_load(preset.read_text())
    if pretrain_cells:
        cells = dict(list(params["pretrain"]["cells"].items())[:pretrain_cells])
        params["pretrain"]["cells"] = cells
        params["evaluate"]["models"] = {name: "pretrain" for name in cells}
        for section in ("adapt", "finetune"):
            if section in params:
                params[section] = {}
    return params


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out['PATH']}"
    return out


def sh(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def make_project(dest: Path, params: dict) -> Path:
    ignore = shutil.ignore_patterns(*NOT_COPIED)
    shutil.copytree(
        ROOT, dest, ignore=lambda d, names: ignore(d, names) | (NOT_COPIED_TOP if d == str(ROOT) else set())
    )
    (dest / ".dvc").mkdir()
    shutil.copy2(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "init", "-q"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"], dest)
    return dest


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (dvc, the stage commands)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(name: str, fn, times: dict[str, float]) -> None:
    """Wall seconds under ``name`` and CPU seconds under its ``_cpu`` twin (robust to a busy machine)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    times[name] = round(time.perf_counter() - wall, 2)
    times[name.removesuffix("_s") + "_cpu_s"] = round(cpu_seconds() - cpu, 2)


def spread(name: str, samples: list[float]) -> dict[str, float]:
    """Median, min and max of ``samples`` under ``name`` (``noop_flow_s`` -> ``noop_flow_min_s`` ...)."""
    stem = name.removesuffix("_s")
    return {
        name: round(statistics.median(samples), 2),
        f"{stem}_min_s": round(min(samples), 2),
        f"{stem}_max_s": round(max(samples), 2),
    }


def noop_passes(project: Path, repeats: int, api_url: str, study_flow) -> dict[str, float]:
    """No-op `dvc repro`, study flow and `pretrainlab flow run` on an up-to-date ``project``."""
    cli = [sys.executable, "-m", "pipelines.cli", "run", "--repo", str(project), "--max-parallel", "1"]
    cli_env = {**env(), "PREFECT_API_URL": api_url}
    samples: dict[str, list[float]] = {"noop_dvc_repro_s": [], "noop_flow_s": [], "noop_flow_cli_s": []}
    for _ in range(repeats):
        for name, run in (
            ("noop_dvc_repro_s", lambda: sh([sys.executable, "-m", "dvc", "repro"], project)),
            ("noop_flow_s", lambda: study_flow(repo=str(project), max_parallel=1)),
            ("noop_flow_cli_s", lambda: subprocess.run(cli, env=cli_env, capture_output=True, check=True)),
        ):
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {key: value for name, got in samples.items() for key, value in spread(name, got).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", type=Path, default=ROOT / "presets" / "smoke.yaml")
    parser.add_argument("--pretrain-cells", type=int, default=0, help="0: all cells of the preset")
    parser.add_argument("--repeats", type=int, default=5, help="no-op passes of each kind")
    parser.add_argument("--noop-only", action="store_true", help="skip the two flows from scratch")
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    from pipelines.dag import read_graph
    from pipelines.study import study_flow

    params = study_params(args.preset, args.pretrain_cells)
    work = Path(tempfile.mkdtemp(prefix="flow-overhead-"))
    load_before = os.getloadavg()
    times: dict[str, float] = {}
    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        plain = make_project(work / "dvc", params)
        timed("dvc_repro_s", lambda: sh([sys.executable, "-m", "dvc", "repro"], plain), times)
        for parallel in () if args.noop_only else (1, 2):
            project = make_project(work / f"flow{parallel}", params)
            timed(
                f"flow_max_parallel_{parallel}_s",
                lambda p=project, n=parallel: study_flow(repo=str(p), max_parallel=n),
                times,
            )
        times.update(noop_passes(plain, args.repeats, PREFECT_API_URL.value(), study_flow))
    stages = len(read_graph(plain).order)
    shutil.rmtree(work, ignore_errors=True)

    noop_overhead = (times["noop_flow_s"] - times["noop_dvc_repro_s"]) / stages
    from_scratch = {}
    if not args.noop_only:
        from_scratch = {
            "overhead_s": round(times["flow_max_parallel_1_s"] - times["dvc_repro_s"], 2),
            "overhead_ratio": round(times["flow_max_parallel_1_s"] / times["dvc_repro_s"], 3),
            "cpu_overhead_s": round(times["flow_max_parallel_1_cpu_s"] - times["dvc_repro_cpu_s"], 2),
            "speedup_max_parallel_2": round(
                times["flow_max_parallel_1_s"] / times["flow_max_parallel_2_s"], 3
            ),
        }
    record = {
        "preset": str(args.preset.relative_to(ROOT) if args.preset.is_relative_to(ROOT) else args.preset),
        "pretrain_cells": list(params["pretrain"]["cells"]),
        "stages": stages,
        "repeats": args.repeats,
        **times,
        **from_scratch,
        "noop_overhead_per_stage_s": round(noop_overhead, 3),
        "noop_cli_overhead_per_stage_s": round(
            (times["noop_flow_cli_s"] - times["noop_dvc_repro_s"]) / stages, 3
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_1m_before": round(load_before[0], 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    for key in ("dvc_repro_s", "flow_max_parallel_1_s", "flow_max_parallel_2_s"):
        if key in times:
            print(
                f"{key:>24}: {times[key]:8.2f} s wall {times[key.removesuffix('_s') + '_cpu_s']:8.2f} s cpu"
            )
    for key in ("noop_dvc_repro_s", "noop_flow_s", "noop_flow_cli_s"):
        stem = key.removesuffix("_s")
        low, high = times[f"{stem}_min_s"], times[f"{stem}_max_s"]
        print(f"{key:>24}: {times[key]:8.2f} s median of {args.repeats} ({low:.2f}-{high:.2f})")
    print(f"{'stages':>24}: {stages:8d}   load average {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    print(f"flow_overhead: noop_overhead_per_stage_s={record['noop_overhead_per_stage_s']}")


if __name__ == "__main__":
    main()
